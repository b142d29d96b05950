"""佣金确认: the confirmed 签约 of customers whose 报备 the desk confirmed, names as the viewer may
see them, filtered by date and agency, exported to Excel (neutralised cells) and logged."""

import re
from datetime import date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.agency_data import make_agency, make_broker, make_deal, make_report
from villa.models import AccessLog

MONTH = {"preset": "custom", "from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def office(make_user, make_customer):
    """Two teams; four signed customers that came with a confirmed 报备 and five that are not on the
    list (pending 签约, only 认购, no 报备, an expired 报备, signed in October)."""
    manager, other_manager = make_user("manager"), make_user("manager")
    rep, other_rep = make_user("rep", manager=manager), make_user("rep", manager=other_manager)
    desk = make_user("reception", display_name="小林")
    lianjia, zhongyuan = make_agency("链家"), make_agency("中原地产")
    wang, zhang = make_broker(lianjia, "王一"), make_broker(zhongyuan, "=1+1")
    at = datetime(2026, 11, 2, 2)

    def customer(name, owner, broker, stage="signed", status="confirmed", day=date(2026, 11, 20), **report):
        c = make_customer(owner=owner, name=name, channel="broker")
        if broker is not None:
            make_report(broker, desk, at, c, desk, **report)
        if stage:
            make_deal(c, stage, 10_000_000 + c.id, status=status, deal_date=day, unit_number=f"B区{c.id}号")
        return c

    shown = {
        "own": customer("赵一鸣", rep, wang),
        "other_team": customer("钱二宝", other_rep, wang),
        "zhongyuan": customer("孙三多", rep, zhang, day=date(2026, 11, 30)),
        "first_day": customer("李四方", other_rep, zhang, day=date(2026, 11, 1)),
    }
    customer("周五", rep, wang, status="pending")
    customer("吴六", rep, wang, stage="subscribed")
    customer("郑七", rep, None)
    c = make_customer(owner=rep, name="王八", channel="broker")
    make_report(wang, desk, at, status="expired", customer_name="王八")
    make_deal(c, "signed", 9_000_000, deal_date=date(2026, 11, 10))
    customer("冯九", rep, wang, day=date(2026, 10, 31))
    return {"manager": manager, "agencies": (lianjia, zhongyuan), "shown": shown}


def listed(page: str) -> list[str]:
    return [
        name
        for name in ("赵一鸣", "钱二宝", "孙三多", "李四方", "周五", "吴六", "郑七", "王八", "冯九")
        if name in page
    ]


def test_the_manager_sees_the_signed_deals_with_a_confirmed_report_names_of_their_team_only(office, login):
    page = login(office["manager"]).get("/agencies/commission", query_string=MONTH).get_data(as_text=True)
    assert listed(page) == ["赵一鸣", "孙三多"]  # the other team's customers: masked
    assert len(re.findall(r'data-testid="commission-\d+"', page)) == 4
    assert "钱**" in page and "李**" in page
    own = office["shown"]["own"]
    assert f"B区{own.id}号" in page and f"¥{10_000_000 + own.id:,}" in page and "王一" in page
    assert "小林" in page  # who confirmed it at the desk


def test_the_audit_team_sees_every_name_and_the_admin_none(office, login_as):
    auditor = login_as("auditor").get("/agencies/commission", query_string=MONTH).get_data(as_text=True)
    assert listed(auditor) == ["赵一鸣", "钱二宝", "孙三多", "李四方"]
    admin = login_as("admin").get("/agencies/commission", query_string=MONTH).get_data(as_text=True)
    assert listed(admin) == [] and "赵**" in admin


def test_filtered_by_agency_and_dates(office, login):
    session = login(office["manager"])
    zhongyuan = office["agencies"][1]
    page = session.get("/agencies/commission", query_string={**MONTH, "agency": zhongyuan.id}).get_data(
        as_text=True
    )
    assert listed(page) == ["孙三多"] and "王一" not in page and "李**" in page
    october = session.get(
        "/agencies/commission", query_string={**MONTH, "from": "2026-10-01", "to": "2026-10-31"}
    )
    assert listed(october.get_data(as_text=True)) == ["冯九"]


def test_the_export_holds_the_rows_neutralised_and_is_logged(office, login):
    manager = office["manager"]
    response = login(manager).get("/agencies/commission.xlsx", query_string=MONTH)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    rows = [list(row) for row in load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True)]
    header = rows.index(
        ["中介公司", "经纪人", "客户编号", "客户", "报备时间", "确客时间", "签约日期", "房号", "总价（元）"]
    )
    body = rows[header + 1 : -1]
    assert len(body) == 4
    own = office["shown"]["own"]
    own_row = next(row for row in body if row[2] == own.id)
    assert own_row == [
        "链家",
        "王一",
        own.id,
        "赵一鸣",
        "2026-11-02 10:00",  # office time of 02:00 UTC
        "2026-11-02 12:00",
        datetime(2026, 11, 20),
        f"B区{own.id}号",
        10_000_000 + own.id,
    ]
    assert {row[3] for row in body} == {"赵一鸣", "钱**", "孙三多", "李**"}
    assert {row[1] for row in body} == {"王一", "'=1+1"}  # a broker's name read as text, never a formula
    assert rows[-1][0] == "合计" and rows[-1][8] == sum(row[8] for row in body)
    entry = AccessLog.get()
    assert (entry.actor_id, entry.action, entry.customer_id, entry.fields) == (
        manager.id,
        "export",
        None,
        "commission:full",
    )


def test_an_export_of_masked_names_only_says_so(office, login_as):
    login_as("admin").get("/agencies/commission.xlsx", query_string=MONTH)
    assert AccessLog.get().fields == "commission:masked"


@pytest.mark.parametrize("role", ["rep", "reception"])
def test_reps_and_the_desk_may_not_open_it(office, login_as, role):
    session = login_as(role)
    assert session.get("/agencies/commission", query_string=MONTH).status_code == 403
    assert session.get("/agencies/commission.xlsx", query_string=MONTH).status_code == 403
    assert AccessLog.select().count() == 0
