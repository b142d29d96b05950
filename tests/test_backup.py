"""Backups: a consistent snapshot while the office writes, encrypted, refused when foreign or damaged,
restored to identical data (on SQLite and, with VILLA_TEST_DATABASE_URL, on PostgreSQL)."""

import json
import os
import shutil
import sqlite3
import struct
import threading
import time

import pytest

from tests.conftest import create_customer, create_user
from tests.helpers import assert_one_line_error, villa
from villa import crypto
from villa.backup import (
    MAGIC,
    BackupError,
    Difference,
    database_fingerprint,
    first_difference,
    make_backup,
    opened_backup,
    read_header,
    restore_backup,
    verify_backup,
)
from villa.db import db, is_sqlite
from villa.models import Channel, Customer
from villa.registration import Registration, find_known, register

PHONE, ID_NUMBER, ADDRESS = "13912345678", "11010519491231002X", "上海市浦东新区锦绣路1000弄"


@pytest.fixture
def backups(app, tmp_path):
    """The app's context, with its backup folder in this test's temporary folder."""
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    with app.app_context():
        yield tmp_path / "backups"
    if not db.is_closed():
        db.close()


@pytest.fixture
def backup_file(backups):
    owner = create_user("rep")
    create_customer(owner=owner, name="张三丰", phone=PHONE, id_number=ID_NUMBER, address=ADDRESS)
    return make_backup().path


def _registrar(stop: threading.Event, created: dict):
    """Register customers through the desk's domain call until told to stop (its own connection)."""
    desk, rep = create_user("reception"), create_user("rep")
    channel = Channel.get(Channel.code == "walk_in")
    n = 0
    try:
        while not stop.is_set():
            phone = f"13700{n:06d}"
            customer = register(desk, Registration("赵客户", phone, "M", "visit", channel, rep))
            created[customer.id] = phone
            n += 1
    finally:
        db.close()


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_backup_while_writes_run_restores_the_snapshot_exactly(backups):
    owner = create_user("rep")
    before = {create_customer(owner=owner, phone=f"+86139{i:08d}").id: f"139{i:08d}" for i in range(20)}
    created, stop = {}, threading.Event()
    writer = threading.Thread(target=_registrar, args=(stop, created))
    writer.start()
    try:
        _wait_for(lambda: len(created) >= 3)
        during = len(created)
        info = make_backup()
        after = len(created)
        _wait_for(lambda: len(created) >= after + 3)
    finally:
        stop.set()
        writer.join()
    assert info.path.parent == backups and oct(info.path.stat().st_mode & 0o777) == "0o600"
    header = info.header
    assert 20 + during <= header.customers <= 20 + len(created)
    assert header.customers < 20 + len(created), "the registrations after the backup must not be in it"
    assert header.fingerprint == read_header(info.path).fingerprint

    report = restore_backup(info.path)

    assert report.migrations_applied == []
    assert database_fingerprint() == header.fingerprint
    with db.connection_context():
        restored = {c.id: c.phone for c in Customer.select()}
    assert len(restored) == header.customers
    expected = {**before, **created}
    assert set(before) <= set(restored)
    for customer_id, phone in restored.items():  # every phone decrypts to what was registered
        assert phone == "+86" + expected[customer_id]
    with db.connection_context():  # and the blind index still finds them
        assert find_known(phone=expected[min(before)]).customer.id == min(before)


def test_restore_removes_tables_the_backup_does_not_have(backup_file):
    with db.connection_context():
        db.execute_sql(
            "CREATE TABLE later_added (id integer PRIMARY KEY, customer_id integer REFERENCES customer (id))"
        )
    restore_backup(backup_file)
    fingerprint = database_fingerprint()
    assert "later_added" not in fingerprint
    assert fingerprint == read_header(backup_file).fingerprint


def test_backup_file_holds_no_personal_data(backup_file):
    raw = backup_file.read_bytes()
    assert raw.startswith(MAGIC)
    for secret in (PHONE, PHONE[-8:], ID_NUMBER, ID_NUMBER[:14], ADDRESS, "锦绣路", "张三丰"):
        assert secret.encode() not in raw, secret


def test_verify_reports_ok_for_a_good_backup(backup_file):
    report = verify_backup(backup_file)
    assert report.ok, report.difference
    assert report.difference is None
    assert report.tables >= 10 and report.rows > 0


def test_first_difference_names_the_table():
    expected = {"customer": (2, "a"), "visit": (1, "b")}
    assert first_difference(expected, dict(expected)) is None
    assert str(first_difference(expected, {"customer": (1, "a"), "visit": (1, "b")})) == (
        "table customer: 2 rows expected, 1 found"
    )
    assert first_difference(expected, {"customer": (2, "x"), "visit": (1, "b")}).code == "rows_differ"
    assert first_difference(expected, {"customer": (2, "a")}) == Difference("missing_table", "visit")


def _refusal(path) -> BackupError:
    with pytest.raises(BackupError) as refused, opened_backup(path):
        pass
    return refused.value


def test_a_flipped_byte_is_damage(backup_file):
    raw = bytearray(backup_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    backup_file.write_bytes(bytes(raw))
    assert str(_refusal(backup_file)) == "backup is damaged"
    report = verify_backup(backup_file)
    assert not report.ok and report.difference.code == "damaged"


def test_a_flipped_byte_in_the_header_is_damage(backup_file):
    raw = backup_file.read_bytes()
    at = raw.index(b'"created_at":"') + len(b'"created_at":"') + 3  # a digit of the year
    backup_file.write_bytes(raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :])
    assert _refusal(backup_file).code == "damaged"


def test_a_refused_restore_leaves_the_data_alone(backup_file):
    before = database_fingerprint()
    backup_file.write_bytes(backup_file.read_bytes()[:-100])
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(backup_file)
    assert database_fingerprint() == before


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_a_truncated_file_is_refused(backup_file, keep):
    raw = backup_file.read_bytes()
    backup_file.write_bytes(raw[: int(len(raw) * keep)])
    assert _refusal(backup_file).code == "damaged"


def test_a_file_with_extra_bytes_is_refused(backup_file):
    backup_file.write_bytes(backup_file.read_bytes() + b"\0" * 40)
    assert _refusal(backup_file).code == "damaged"


NOT_OURS = [b"", b"VILLA", b"SQLite format 3\x00" + bytes(200), bytes(range(256)) * 9]


@pytest.mark.parametrize("content", NOT_OURS)
def test_a_file_that_is_not_ours_is_refused(backups, tmp_path, content):
    path = tmp_path / "random.vbk"
    path.write_bytes(content)
    assert str(_refusal(path)) == "not a villa backup"
    with pytest.raises(BackupError, match="not a villa backup"):
        restore_backup(path)


def test_a_backup_made_with_another_key_file_is_refused(backups, tmp_path):
    create_customer(owner=create_user("rep"))
    mine = crypto.keys.ring
    crypto.keys.ring = crypto.KeyRing.create(tmp_path / "other-keys.json")
    try:
        path = make_backup(tmp_path / "foreign.vbk").path
    finally:
        crypto.keys.ring = mine
    assert str(_refusal(path)) == "this backup was made with another key file"
    before = database_fingerprint()
    with pytest.raises(BackupError, match="another key file"):
        restore_backup(path)
    assert database_fingerprint() == before


def test_a_backup_from_the_other_kind_of_database_is_refused(backup_file):
    raw = backup_file.read_bytes()
    (length,) = struct.unpack(">I", raw[8:12])
    header = json.loads(raw[12 : 12 + length])
    mine, other = ("sqlite", "postgresql") if is_sqlite() else ("postgresql", "sqlite")
    assert header["kind"] == mine
    header["kind"] = other
    body = json.dumps(header).encode()
    backup_file.write_bytes(MAGIC + struct.pack(">I", len(body)) + body + raw[12 + length :])
    labels = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    assert str(_refusal(backup_file)) == (
        f"this backup is from {labels[other]}; the current database is {labels[mine]}"
    )


def test_leftovers_of_a_killed_backup_are_swept(backups):
    make_backup()
    stale, fresh = backups / ".villa-work-stale", backups / ".villa-work-fresh"
    stale.mkdir()
    (stale / "snapshot").write_bytes(b"unencrypted")
    fresh.mkdir()
    os.utime(stale, (time.time() - 7 * 3600,) * 2)
    make_backup()
    assert not stale.exists() and fresh.exists()


def test_backup_to_a_path_refuses_to_overwrite(backups, tmp_path):
    target = tmp_path / "mine.vbk"
    assert make_backup(target).path == target
    with pytest.raises(BackupError, match="already exists"):
        make_backup(target)


def test_sqlite_stays_in_wal_mode_after_restore(backup_file):
    if not is_sqlite():
        pytest.skip("SQLite only: the journal mode of the database file")
    restore_backup(backup_file)
    conn = sqlite3.connect(db.obj.database)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


# --- the command line (SQLite instance in a subprocess) -----------------------------------------


def _first_customer(instance):
    conn = sqlite3.connect(instance / "instance" / "villa.db")
    try:
        customer_id, name, phone = conn.execute("SELECT id, name, phone FROM customer ORDER BY id").fetchone()
        count = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
    finally:
        conn.close()
    ring = crypto.KeyRing.load(instance / "instance" / "keys.json")
    return customer_id, name, ring.decrypt(bytes(phone), b"customer.phone"), count


def test_cli_backup_and_restore_round_trip(tmp_path, cli_instance):
    demo = villa(tmp_path, "demo", "--customers", "20")
    assert demo.returncode == 0, demo.stderr
    original = _first_customer(tmp_path)
    assert original[3] == 20

    made = villa(tmp_path, "backup")
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith("backup written: ") and line.endswith(", 20 customers)"), line
    path = line[len("backup written: ") : line.rindex(" (")]
    assert path.endswith(".vbk") and "/instance/backups/villa-" in path

    conn = sqlite3.connect(tmp_path / "instance" / "villa.db")
    with conn:
        conn.execute("UPDATE customer SET name = '改过了' WHERE id = ?", (original[0],))
    conn.close()

    refused = villa(tmp_path, "restore", path)
    assert refused.returncode == 1
    assert assert_one_line_error(refused) == "villa: add --yes to replace the current data with this backup"
    assert _first_customer(tmp_path)[1] == "改过了"

    restored = villa(tmp_path, "restore", path, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith(f"restored {path}")
    assert _first_customer(tmp_path) == original

    # A new machine: only the key file and the backup survived.
    fresh = tmp_path / "new-machine"
    (fresh / "instance").mkdir(parents=True)
    shutil.copy(tmp_path / "instance" / "keys.json", fresh / "instance" / "keys.json")
    recovered = villa(fresh, "restore", path, "--yes")
    assert recovered.returncode == 0, recovered.stderr
    assert _first_customer(fresh) == original

    daily = villa(tmp_path, "daily")
    assert daily.returncode == 0, daily.stderr
    # The staff notifications' steps come after the backup, so they can never stop it.
    assert any(line.startswith("backup written: ") for line in daily.stdout.strip().splitlines())


def test_cli_errors_are_one_line(tmp_path, cli_instance):
    junk, taken = tmp_path / "junk.vbk", tmp_path / "taken.vbk"
    junk.write_bytes(b"hello")
    taken.write_bytes(b"")
    line = assert_one_line_error(villa(tmp_path, "restore", str(junk), "--yes"))
    assert line == "villa: not a villa backup"
    line = assert_one_line_error(villa(tmp_path, "backup", str(taken)))
    assert line == f"villa: {taken} already exists; refusing to overwrite it"


# --- the admin page -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
def test_backups_page_is_for_admins_only(app, login_as, role, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path)
    session = login_as(role)
    assert session.get("/admin/backups").status_code == 403
    assert session.post("/admin/backups").status_code == 403
    assert list(tmp_path.iterdir()) == []


def test_admin_backs_up_now_and_verifies(app, login_as, make_customer, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path)
    make_customer(phone=PHONE)
    admin = login_as("admin")
    assert 'data-testid="backup-row"' not in admin.get("/admin/backups").get_data(as_text=True)

    made = admin.post("/admin/backups")
    assert made.status_code == 303
    (path,) = tmp_path.glob("villa-*.vbk")
    page = admin.get("/admin/backups").get_data(as_text=True)
    assert path.name in page and 'data-testid="backup-row"' in page

    verified = admin.post(f"/admin/backups/{path.name}/verify")
    assert verified.status_code == 200
    assert 'data-testid="verify-ok"' in verified.get_data(as_text=True)
    assert admin.post("/admin/backups/..%2Fkeys.json/verify").status_code == 404
    assert admin.post("/admin/backups/villa-20260101-000000.vbk/verify").status_code == 404


def test_admin_verify_shows_damage(app, login_as, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path)
    admin = login_as("admin")
    admin.post("/admin/backups")
    (path,) = tmp_path.glob("villa-*.vbk")
    raw = bytearray(path.read_bytes())
    raw[-50] ^= 0xFF
    path.write_bytes(bytes(raw))
    page = admin.post(f"/admin/backups/{path.name}/verify").get_data(as_text=True)
    assert 'data-testid="verify-problem"' in page
