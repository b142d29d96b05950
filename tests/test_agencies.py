"""Agencies and brokers as records: the admin and the sales managers list, add, change and deactivate
them; bad input is answered field by field with the values kept; every change is in the
audit log in words; the broker's phone is encrypted, blind-indexed and shown masked only."""

import json
import re

import pytest

from tests.agency_data import make_agency, make_broker
from tests.conftest import raw_column
from villa.crypto import blind_index
from villa.models import Agency, AuditLog, Broker


def actions() -> list[str]:
    return [
        entry.action for entry in AuditLog.select().where(AuditLog.action != "login").order_by(AuditLog.id)
    ]


def error(page: str, field: str) -> str:
    match = re.search(rf'data-testid="error-{field}">(.*?)</small>', page, re.S)
    return match.group(1).strip() if match else ""


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_add_change_and_take_an_agency_off_the_list(login_as, role):
    session = login_as(role)
    added = session.post(
        "/agencies/", {"name": " 链家  地产 ", "contract_start": "2026-01-01", "contract_end": "2026-12-31"}
    )
    assert added.status_code == 303
    agency = Agency.get()
    assert (agency.name, str(agency.contract_start), str(agency.contract_end), agency.active) == (
        "链家 地产",
        "2026-01-01",
        "2026-12-31",
        True,
    )
    page = session.get("/agencies/").get_data(as_text=True)
    assert "链家 地产" in page and "2026-01-01 – 2026-12-31" in page
    changed = session.post(f"/agencies/{agency.id}", {"name": "链家", "contract_start": "2026-01-01"})
    assert changed.status_code == 303
    agency = Agency.get_by_id(agency.id)
    assert (agency.name, agency.contract_end) == ("链家", None)
    assert session.post(f"/agencies/{agency.id}/deactivate").status_code == 303
    assert not Agency.get_by_id(agency.id).active
    assert "已停用" in session.get("/agencies/").get_data(as_text=True)
    session.post(f"/agencies/{agency.id}/reactivate")
    assert Agency.get_by_id(agency.id).active
    assert actions() == ["agency_added", "agency_changed", "agency_deactivated", "agency_reactivated"]
    change = AuditLog.get(AuditLog.action == "agency_changed").change_map
    assert change == {"name": ["链家 地产", "链家"], "contract_end": ["2026-12-31", None]}


def test_bad_agency_input_is_answered_next_to_each_field_with_the_values_kept(login_as):
    session = login_as("manager")
    make_agency("链家")
    duplicate = session.post("/agencies/", {"name": "链家", "contract_start": "2026-05-01"})
    page = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 422
    assert error(page, "name") and 'value="2026-05-01"' in page
    backwards = session.post(
        "/agencies/", {"name": "我爱我家", "contract_start": "2026-05-01", "contract_end": "2026-04-30"}
    )
    page = backwards.get_data(as_text=True)
    assert backwards.status_code == 422 and error(page, "contract_end")
    assert 'value="我爱我家"' in page
    assert session.post("/agencies/", {"name": "  "}).status_code == 422
    not_a_date = session.post("/agencies/", {"name": "中原", "contract_start": "2026-13-45"})
    assert not_a_date.status_code == 422 and error(not_a_date.get_data(as_text=True), "contract_start")
    assert session.post("/agencies/", {"name": "长" * 61}).status_code == 422
    assert [a.name for a in Agency.select()] == ["链家"]
    assert actions() == []


def test_renaming_an_agency_to_a_taken_name_is_refused_not_a_500(login_as):
    session = login_as("admin")
    make_agency("链家")
    other = make_agency("中原地产")
    response = session.post(f"/agencies/{other.id}", {"name": "链家"})
    assert response.status_code == 422 and error(response.get_data(as_text=True), "name")
    assert Agency.get_by_id(other.id).name == "中原地产"


def test_add_and_change_a_broker_phone_encrypted_and_shown_masked(login_as):
    session = login_as("manager")
    lianjia, zhongyuan = make_agency("链家"), make_agency("中原地产")
    added = session.post(
        "/agencies/brokers", {"agency": lianjia.id, "name": "王一", "phone": "138-0013-8001"}
    )
    assert added.status_code == 303
    broker = Broker.get()
    assert (broker.agency_id, broker.name, broker.phone, broker.active) == (
        lianjia.id,
        "王一",
        "+8613800138001",
        True,
    )
    assert broker.phone_index == blind_index("phone", "+8613800138001")
    assert b"13800138001" not in raw_column(Broker.phone, broker.id)
    page = session.get("/agencies/brokers").get_data(as_text=True)
    assert "138****8001" in page and "13800138001" not in page and "138 0013 8001" not in page
    edit = session.get(f"/agencies/brokers/{broker.id}").get_data(as_text=True)
    assert "138****8001" in edit and "8001" not in edit.replace("138****8001", "")
    moved = session.post(
        f"/agencies/brokers/{broker.id}", {"agency": zhongyuan.id, "name": "王一", "phone": ""}
    )
    assert moved.status_code == 303
    assert (Broker.get_by_id(broker.id).agency_id, Broker.get_by_id(broker.id).phone) == (
        zhongyuan.id,
        "+8613800138001",
    )
    session.post(
        f"/agencies/brokers/{broker.id}", {"agency": zhongyuan.id, "name": "王一", "phone": "13900139002"}
    )
    assert Broker.get_by_id(broker.id).phone == "+8613900139002"
    session.post(f"/agencies/brokers/{broker.id}/deactivate")
    assert not Broker.get_by_id(broker.id).active
    assert actions() == ["broker_added", "broker_changed", "broker_changed", "broker_deactivated"]
    logged = " ".join(entry.changes for entry in AuditLog.select())
    assert "138" not in logged and "139" not in logged
    assert json.loads(AuditLog.select().where(AuditLog.action == "broker_changed").first().changes) == {
        "agency": ["链家", "中原地产"]
    }


def test_bad_broker_input_is_answered_next_to_each_field(login_as):
    session = login_as("admin")
    lianjia = make_agency("链家")
    make_broker(lianjia, "王一", phone="+8613800138001")
    nothing = session.post("/agencies/brokers", {"agency": "", "name": "", "phone": "12"})
    page = nothing.get_data(as_text=True)
    assert nothing.status_code == 422
    assert error(page, "agency") and error(page, "name") and error(page, "phone")
    taken = session.post("/agencies/brokers", {"agency": lianjia.id, "name": "李二", "phone": "13800138001"})
    page = taken.get_data(as_text=True)
    assert taken.status_code == 422 and error(page, "phone") and 'value="李二"' in page
    assert Broker.select().count() == 1


def test_the_brokers_list_filters_by_agency(login_as):
    session = login_as("manager")
    lianjia, zhongyuan = make_agency("链家"), make_agency("中原地产")
    make_broker(lianjia, "王一")
    make_broker(zhongyuan, "张三")
    page = session.get(f"/agencies/brokers?agency={zhongyuan.id}").get_data(as_text=True)
    assert "张三" in page and "王一" not in page


@pytest.mark.parametrize("role", ["rep", "reception", "auditor"])
def test_other_roles_may_not_keep_the_records(login_as, role):
    lianjia = make_agency("链家")
    broker = make_broker(lianjia, "王一")
    session = login_as(role)
    for url in (
        "/agencies/",
        "/agencies/brokers",
        f"/agencies/{lianjia.id}",
        f"/agencies/brokers/{broker.id}",
    ):
        assert session.get(url).status_code == 403, url
    assert session.post("/agencies/", {"name": "新中介"}).status_code == 403
    assert session.post(f"/agencies/{lianjia.id}/deactivate").status_code == 403
    assert session.post(f"/agencies/brokers/{broker.id}/deactivate").status_code == 403
    assert Agency.select().count() == 1 and Agency.get().active and Broker.get().active
    assert actions() == []
