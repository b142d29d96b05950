"""No personal data where it could leak: the application log (gunicorn's captured stdout and stderr),
the database's rows and files (SQLite: the file, its WAL), and backups (the file and what it
decrypts to). Customers are registered, searched, revealed and refused over HTTP first, so every
path those values travel has been used."""

import subprocess
from urllib.parse import quote

import pytest

from tests.security.factory import dashed, new_id_number, new_phone, registration, spaced

ADDRESS = "上海市徐汇区衡山路泄露检查12号"
WECHAT = "wx_leakcheck_2931"
CREDIT = "征信良好泄露检查无逾期"


@pytest.fixture(scope="module")
def wal_kept(server):
    """SQLite deletes the WAL when its last connection closes (the server closes one per request):
    a connection held open here keeps it, with the frames the writes below put in it."""
    if not server.db.is_sqlite:
        yield None
        return
    import sqlite3

    conn = sqlite3.connect(server.db.path)
    conn.execute("SELECT count(*) FROM customer").fetchone()
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def planted(server, staff, tmp_path_factory, wal_kept):
    rep, desk, manager = staff["repa"], staff["desk"], staff["mgra"]
    people = []
    for n in range(3):
        phone, alt, id_number = new_phone(), new_phone(), new_id_number()
        values = registration(
            name=f"泄露检查{'甲乙丙'[n]}",
            phone=spaced(phone) if n == 1 else phone,
            alt_phone=dashed(alt),
            id_number=id_number.lower(),
            sensitive_consent="y",
            address=f"{ADDRESS}{n}",
            wechat=f"{WECHAT}{n}",
            credit_notes=f"{CREDIT}{n}",
        )
        client = desk if n == 2 else rep
        if client is desk:
            values["rep"] = _rep_id(desk)
        response = client.post("/reception/register", values)
        assert response.status == 303, f"{response.status} {response.text[:300]}"
        customer = response.location.rsplit("/", 1)[1]
        people.append({"phone": phone, "alt": alt, "id": id_number, "customer": customer, "n": n})
    for person in people:
        phone, id_number, customer = person["phone"], person["id"], person["customer"]
        # Every way a number travels: searches, the duplicate check, a reveal, a refused duplicate.
        assert manager.get(f"/customers/?q={quote(dashed(phone))}").status == 200
        assert manager.get(f"/customers/?q={id_number}", htmx=True).status == 200
        assert desk.get(f"/reception/check?phone={quote(spaced(phone))}", htmx=True).status == 200
        assert desk.get(f"/reception/check?id_number={id_number}", htmx=True).status == 200
        assert manager.get(f"/customers/export.xlsx?q={phone}").status == 200
        assert rep.post(f"/customers/{customer}/reveal", htmx=True).status in (200, 403)
        duplicate = rep.post(
            "/reception/register", registration(phone=phone, id_number=id_number, sensitive_consent="y")
        )
        assert duplicate.status == 409
        invalid = rep.post("/reception/register", registration(phone=phone, id_number=id_number[:-1] + "0"))
        assert invalid.status in (409, 422)
        assert rep.post(f"/customers/{customer}/fields/phone", {"phone": spaced(person["alt"])}).status in (
            303, 403, 409, 422,
        )  # fmt: skip
    folder = tmp_path_factory.mktemp("leak-backup")
    backup = server.backup(folder / "leak-check.vbk")
    return {"people": people, "backup": backup, "folder": folder}


def _rep_id(desk) -> str:
    import re

    page = desk.get("/reception/register").text
    options = re.findall(r'<option[^>]*value="(\d+)"[^>]*>[^<]*</option>', page)
    assert options, "the desk's form offers no sales rep"
    return options[0]


def _needles(planted) -> dict[str, bytes]:
    """Each secret in the forms it could be written in, as UTF-8 bytes."""
    found = {}
    for person in planted["people"]:
        for label, number in (("phone", person["phone"]), ("other phone", person["alt"])):
            for form in (number, spaced(number), dashed(number)):
                found[f"{label} {form}"] = form.encode()
        found[f"ID {person['id']}"] = person["id"].encode()
        found[f"ID {person['id'].lower()}"] = person["id"].lower().encode()
        found[f"ID digits {person['id'][:17]}"] = person["id"][:17].encode()
        n = person["n"]
        for label, text in (
            ("address", f"{ADDRESS}{n}"),
            ("WeChat", f"{WECHAT}{n}"),
            ("credit", f"{CREDIT}{n}"),
        ):
            found[f"{label} {text}"] = text.encode()
    found["address text"] = "衡山路泄露检查".encode()
    return found


def _leaks(blob: bytes, needles: dict[str, bytes]) -> list[str]:
    return [label for label, needle in needles.items() if needle in blob]


def test_application_log_holds_no_personal_data(server, planted):
    log = server.log_text()
    assert "POST /reception/register" in log, "the captured log is not the access log"
    leaks = _leaks(log.encode(), _needles(planted))
    assert not leaks, f"in the application log: {leaks}"


def test_database_rows_hold_no_plaintext(server, planted):
    text = server.db.tables_text()
    assert "泄露检查甲" in text, "names are stored in clear (searchable): the dump is not the customers'"
    leaks = _leaks(text.encode(), _needles(planted))
    assert not leaks, f"in the database's rows: {leaks}"


def test_database_files_hold_no_plaintext(server, planted):
    if not server.db.is_sqlite:
        pytest.skip("PostgreSQL's files belong to its server; the rows are checked above")
    files = server.db.files()
    assert any(p.name.endswith("-wal") for p in files), f"no WAL next to the database: {files}"
    wal = next(p for p in files if p.name.endswith("-wal")).read_bytes()
    assert "泄露检查甲".encode() in wal, "the WAL does not hold the registrations (nothing to check)"
    needles = _needles(planted)
    leaks = {p.name: _leaks(p.read_bytes(), needles) for p in files}
    assert not any(leaks.values()), f"in the database files: {leaks}"


def test_backup_holds_no_plaintext(server, planted):
    backup = planted["backup"]
    needles = _needles(planted)
    assert not _leaks(backup.read_bytes(), needles), "in the backup file"
    snapshot = server.decrypt_backup(backup, planted["folder"] / "snapshot")
    if server.db.is_sqlite:
        content = snapshot.read_bytes()
    else:
        content = subprocess.run(
            ["pg_restore", "--file=-", str(snapshot)], capture_output=True, check=True
        ).stdout
    assert "泄露检查甲".encode() in content, "the decrypted snapshot does not hold the customers"
    leaks = _leaks(content, needles)
    assert not leaks, f"in the backup's decrypted snapshot: {leaks}"


def test_application_log_holds_no_working_correction_link(server, staff):
    """The database keeps only a hash of a correction link's nonce, so that reading it gives no
    working link (villa/corrections.py): the log must not hand out the whole link either."""
    import re

    rep = staff["repa"]
    customer = rep.post("/reception/register", registration(name="链接检查"))
    assert customer.status == 303
    made = rep.post(f"{customer.location}/correction-link")
    token = re.search(r"/c/([A-Za-z0-9_.\-]+)", made.text).group(1)
    assert server.client().get(f"/c/{token}").status == 200  # the customer opens the link
    log = server.log_text()
    assert token not in log, "a working correction link (/c/<token>) is in the access log"
