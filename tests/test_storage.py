"""No phone or ID number in clear anywhere the database keeps bytes."""

import pytest

from tests.helpers import sqlite_file_bytes
from villa.db import db, is_sqlite

PHONE_DIGITS = "13912345678"


ID_NUMBER = "11010519491231002X"


def test_raw_sqlite_file_and_wal_hold_no_phone_or_id(app, make_customer, make_user):
    if not is_sqlite():
        pytest.skip("file-level check applies to the SQLite database")
    rep = make_user("rep")
    customer = make_customer(
        owner=rep, phone="+86 139 1234 5678", id_number=ID_NUMBER.lower(), address="北京市朝阳区建国路88号"
    )
    assert customer.phone == "+86" + PHONE_DIGITS
    raw = sqlite_file_bytes()
    for secret in (PHONE_DIGITS, ID_NUMBER, ID_NUMBER.lower(), "建国路88号"):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
    assert "王小明".encode() in raw, "the check reads the right file: the unencrypted name is there"


def test_postgres_rows_hold_no_phone_or_id(app, make_customer, make_user):
    rep = make_user("rep")
    make_customer(owner=rep, phone=PHONE_DIGITS, id_number=ID_NUMBER)
    rows = db.execute_sql('SELECT * FROM "customer"').fetchall()
    dump = repr(rows)
    assert PHONE_DIGITS not in dump
    assert ID_NUMBER not in dump
    assert "王小明" in dump
