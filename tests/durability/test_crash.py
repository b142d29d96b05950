"""A crash loses no acknowledged write: SIGKILL the server (master and workers) in the middle of
registrations, start it again, and every registration that got its 303 is there, whole."""

from tests.durability.conftest import Load, half_written, integrity, missing_customers
from tests.security.factory import register


def test_sigkill_mid_load_loses_no_acknowledged_registration(durable):
    load = Load(durable).start()
    try:
        load.wait_for(40)
        durable.kill()  # mid-request: the load threads are sending as fast as answers come
    finally:
        load.finish()
    acked = list(load.acks)
    assert len(acked) >= 40
    assert load.answers == [], f"answers other than 303 before the kill: {load.answers[:10]}"
    cut = [phone for phone, error in load.lost if "Refused" not in error]
    assert cut, f"no request was in flight at the kill, the crash proved nothing: {load.lost}"

    if durable.db.is_sqlite:
        assert integrity(durable) == "ok"  # opening the file replays (or drops) the WAL first
    durable.start()
    assert missing_customers(durable, acked) == {"by id": [], "by phone": []}
    assert half_written(durable) == [], "a registration survived the crash without its visit or audit row"
    if durable.db.is_sqlite:
        assert integrity(durable) == "ok"
    # The restarted server takes new registrations.
    client = durable.login("load0")
    register(client, name="重启之后")
