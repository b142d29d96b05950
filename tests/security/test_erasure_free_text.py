"""A PIPL erasure leaves none of what was typed about the person (issue 12, medium 4): before the fix
the reason a customer was lost, the projects they compared, their agency stayed on the row, and
the audit rows of those fields kept old and new values. The audit rows still say who changed which
field and when."""

import pytest

from tests.security.factory import register

TYPED = {
    "notes": "擦除备注：客户住在滨江路",
    "referrer_name": "擦除推荐人",
    "broker_agency": "擦除中介行",
    "broker_name": "擦除经纪人",
    "competing_projects": "擦除竞品：湖畔别墅",
}
RETYPED = {field: value.replace("擦除", "擦改") for field, value in TYPED.items()}
LOST_REASON = "擦除流失：资金链紧张"
NAME = "擦除甲"


@pytest.fixture(scope="module")
def erased(server, staff):
    rep_a = staff["repa"]
    customer_id = register(rep_a, name=NAME, **TYPED)
    base = f"/customers/{customer_id}"
    for field, value in RETYPED.items():
        saved = rep_a.post(f"{base}/fields/{field}", {field: value})
        assert saved.status == 303, f"{field}: {saved.status} {saved.text[:300]}"
    lost = rep_a.post(f"{base}/stage", {"stage": "lost", "lost_reason": LOST_REASON})
    assert lost.status == 303, lost.text[:300]
    before = server.db.tables_text()
    assert all(text in before for text in (*TYPED.values(), *RETYPED.values(), LOST_REASON))
    done = staff["admin"].post(
        f"/admin/customers/{customer_id}/erase", {"reason": "客户来电要求删除", "confirm": str(customer_id)}
    )
    assert done.status == 303, done.text[:500]
    return customer_id


def test_no_typed_text_is_left_in_the_rows(server, erased):
    text = server.db.tables_text()
    left = [value for value in (NAME, *TYPED.values(), *RETYPED.values(), LOST_REASON) if value in text]
    assert not left, f"still in the database after erasure: {left}"


def test_no_typed_text_is_left_in_the_database_files(server, erased):
    if not server.db.is_sqlite:
        pytest.skip("PostgreSQL's files belong to its server; the rows are checked above")
    for path in server.db.files():
        blob = path.read_bytes()
        left = [
            value for value in (*TYPED.values(), *RETYPED.values(), LOST_REASON) if value.encode() in blob
        ]
        assert not left, f"still readable in {path.name}: {left}"


def test_the_audit_rows_keep_who_changed_which_field(server, erased):
    rows = server.db.query(
        "SELECT action, changes FROM audit_log WHERE customer_id = ? AND action IN (?, ?) ORDER BY id",
        (erased, "field_changed", "stage_changed"),
    )
    changed = " ".join(changes for _action, changes in rows)
    for field in (*RETYPED, "lost_reason"):
        assert f'"{field}"' in changed, f"the audit log lost that {field} changed"
