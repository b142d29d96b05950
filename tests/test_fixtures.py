"""The shared app's fixtures: what one test changes, the next one never sees."""

from villa import crypto
from villa.db import db
from villa.models import Channel, Customer, Setting, User


def test_each_test_starts_from_a_fresh_instance(_session_app, app, make_customer, fresh_app):
    channels, settings = Channel.select().count(), Setting.select().count()
    assert channels and settings, "the defaults `villa init` writes"
    keys = _session_app.keys_path.read_bytes()

    first = make_customer(name="张三丰")
    Setting.write("lookup_limit_per_day", 1)
    app.config["BACKUP_DIR"] = "/nowhere"
    _session_app.keys_path.write_text("{}")
    assert db.obj is not _session_app.database, "fresh_app binds a pool of its own"

    _session_app.release()
    _session_app.reset()

    assert db.obj is _session_app.database
    assert Customer.select().count() == 0 and User.select().count() == 0
    assert (Channel.select().count(), Setting.select().count()) == (channels, settings)
    assert Setting.read("lookup_limit_per_day") != 1
    assert app.config["BACKUP_DIR"] != "/nowhere"
    assert _session_app.keys_path.read_bytes() == keys and crypto.keyring().current
    assert make_customer().id == first.id, "ids start again as in a new database"
