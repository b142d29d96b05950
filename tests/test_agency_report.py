"""The report by agency and broker: its figures equal the ones worked out by hand on a small office.

November 2026 (office dates), two agencies, three brokers, ten 报备 (two just outside the month).
Worked out by hand, 报备 by 报备 (amounts in 元):

  #   broker  reported (office time)  state      customer's confirmed deals
  1   王一    11-03 10:00             confirmed  c1: 认购 10,000,000, 签约 10,000,000
  2   王一    11-05 10:00             confirmed  c2: 认购 8,000,000 (its 签约 8,000,000 still pending)
  3   王一    11-06 10:00             expired    —
  4   李二    11-10 10:00             confirmed  c3: 签约 12,000,000 (a cancelled 认购 of 6,000,000)
  5   李二    11-12 10:00             open       —
  6   张三    11-15 10:00             confirmed  c4: none
  7   张三    11-16 10:00             confirmed  c5: 认筹 500,000 only (not a 认购)
  8   王一    10-31 23:59             confirmed  c6: 签约 9,000,000        <- October: not counted
  9   张三    11-30 23:59             expired    —                         <- the month's last minute
  10  张三    12-01 00:00             open       —                         <- December: not counted

  链家 (王一, 李二): 报备 5 (#1-5), 到访 3 (#1 #2 #4), 认购 reached 3 (c1 c2 c3; c3's 签约 counts),
      签约 2 (c1 c3), 认购 amount 10,000,000 + 8,000,000 = 18,000,000,
      签约 amount 10,000,000 + 12,000,000 = 22,000,000; rates 3/5 = 60.0%, 3/3 = 100.0%, 2/3 = 66.7%.
  中原地产 (张三): 报备 3 (#6 #7 #9), 到访 2, nothing further; 到访 2/3 = 66.7%, 认购 0/2 = 0.0%.
  王一: 3 报备, 2 到访, 认购 2, 签约 1, amounts 18,000,000 and 10,000,000.
  李二: 2 报备, 1 到访, 认购 1, 签约 1, amounts 0 and 12,000,000.
  张三: 3 报备, 2 到访, 0, 0.
  Total: 8 报备, 5 到访, 认购 3, 签约 2, 18,000,000 and 22,000,000.
"""

import re
from datetime import date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.agency_data import make_agency, make_broker, make_deal, make_report
from villa.agency_report import agency_report
from villa.analytics import period_for
from villa.models import AccessLog

NOVEMBER = period_for("custom", date(2026, 11, 1), date(2026, 11, 30))
MONTH = {"preset": "custom", "from": "2026-11-01", "to": "2026-11-30"}


def utc(month, day, hour, minute=0) -> datetime:
    """An office time (UTC+8) as the database keeps it (UTC)."""
    return datetime(2026, month, day, hour, minute) - (datetime(2026, 1, 1, 8) - datetime(2026, 1, 1))


@pytest.fixture
def office(make_user, make_customer):
    manager = make_user("manager")
    rep = make_user("rep", manager=manager)
    desk = make_user("reception", display_name="小林")
    lianjia, zhongyuan = make_agency("链家"), make_agency("中原地产")
    wang, li, zhang = (
        make_broker(lianjia, "王一"),
        make_broker(lianjia, "李二"),
        make_broker(zhongyuan, "张三"),
    )
    c = {n: make_customer(owner=rep, name=f"客户{n}", channel="broker") for n in range(1, 7)}
    make_report(wang, desk, utc(11, 3, 10), c[1], desk)
    make_deal(c[1], "subscribed", 10_000_000)
    make_deal(c[1], "signed", 10_000_000)
    make_report(wang, desk, utc(11, 5, 10), c[2], desk)
    make_deal(c[2], "subscribed", 8_000_000)
    make_deal(c[2], "signed", 8_000_000, status="pending")
    make_report(wang, desk, utc(11, 6, 10), status="expired")
    make_report(li, desk, utc(11, 10, 10), c[3], desk)
    make_deal(c[3], "subscribed", 6_000_000, status="cancelled")
    make_deal(c[3], "signed", 12_000_000)
    make_report(li, desk, utc(11, 12, 10), phone_mask="139****0001")
    make_report(zhang, desk, utc(11, 15, 10), c[4], desk)
    make_report(zhang, desk, utc(11, 16, 10), c[5], desk)
    make_deal(c[5], "pledged", 500_000)
    make_report(wang, desk, utc(10, 31, 23, 59), c[6], desk)
    make_deal(c[6], "signed", 9_000_000)
    make_report(zhang, desk, utc(11, 30, 23, 59), status="expired")
    make_report(zhang, desk, utc(12, 1, 0, 0), phone_mask="139****0002")
    return {"manager": manager, "agencies": (lianjia, zhongyuan), "brokers": (wang, li, zhang)}


def figures_of(row) -> tuple:
    return (
        row.reports,
        row.visited,
        row.subscribed,
        row.signed,
        row.subscribed_amount,
        row.signed_amount,
    )


def test_the_figures_equal_the_hand_computed_ones(office):
    report = agency_report(NOVEMBER)
    agencies = {row.name: figures_of(row) for row in report.agencies}
    assert agencies == {
        "链家": (5, 3, 3, 2, 18_000_000, 22_000_000),
        "中原地产": (3, 2, 0, 0, 0, 0),
    }
    brokers = {(row.agency, row.name): figures_of(row) for row in report.brokers}
    assert brokers == {
        ("链家", "王一"): (3, 2, 2, 1, 18_000_000, 10_000_000),
        ("链家", "李二"): (2, 1, 1, 1, 0, 12_000_000),
        ("中原地产", "张三"): (3, 2, 0, 0, 0, 0),
    }
    assert figures_of(report.total) == (8, 5, 3, 2, 18_000_000, 22_000_000)
    lianjia = report.agencies[0]
    assert (lianjia.visit_rate, lianjia.to_subscription, lianjia.to_signing) == (3 / 5, 1.0, 2 / 3)


def test_one_agency_alone(office):
    report = agency_report(NOVEMBER, office["agencies"][1].id)
    assert [row.name for row in report.agencies] == ["中原地产"]
    assert [row.name for row in report.brokers] == ["张三"]
    assert figures_of(report.total) == (3, 2, 0, 0, 0, 0)


def test_a_month_without_reports_is_empty_not_an_error(office):
    report = agency_report(period_for("custom", date(2026, 6, 1), date(2026, 6, 30)))
    assert report.agencies == report.brokers == []
    assert figures_of(report.total) == (0, 0, 0, 0, 0, 0)
    assert report.total.visit_rate is None


def cells(page: str, testid: str) -> list[list[str]]:
    table = page[page.index(f'data-testid="{testid}"') :]
    table = table[: table.index("</table>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]


def test_the_page_shows_the_same_figures(office, login):
    page = login(office["manager"]).get("/agencies/report", query_string=MONTH).get_data(as_text=True)
    rows = cells(page, "rows-agencies")
    assert ["链家", "5", "3", "60.0%", "3", "¥18,000,000", "2", "¥22,000,000", "100.0%", "66.7%"] in rows
    assert ["中原地产", "3", "2", "66.7%", "0", "¥0", "0", "¥0", "0.0%", "0.0%"] in rows
    assert rows[-1][:8] == ["合计", "8", "5", "62.5%", "3", "¥18,000,000", "2", "¥22,000,000"]
    brokers = cells(page, "rows-brokers")
    assert ["李二", "链家", "2", "1", "50.0%", "1", "¥0", "1", "¥12,000,000", "100.0%", "100.0%"] in brokers


def test_the_export_holds_the_rows_and_is_logged(office, login):
    response = login(office["manager"]).get("/agencies/report/brokers.xlsx", query_string=MONTH)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    sheet = load_workbook(BytesIO(response.data)).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert ["王一", "链家", 3, 2, 2 / 3, 2, 18_000_000, 1, 10_000_000, 1.0, 0.5] in [list(r) for r in rows]
    entry = AccessLog.get()
    assert (entry.actor_id, entry.action, entry.fields) == (
        office["manager"].id,
        "export",
        "analytics:brokers",
    )


@pytest.mark.parametrize("role", ["rep", "reception"])
def test_reps_and_the_desk_may_not_read_it(office, login_as, role):
    session = login_as(role)
    assert session.get("/agencies/report", query_string=MONTH).status_code == 403
    assert session.get("/agencies/report/agencies.xlsx", query_string=MONTH).status_code == 403
    assert AccessLog.select().count() == 0


def test_an_unknown_agency_is_404(office, login):
    session = login(office["manager"])
    assert session.get("/agencies/report", query_string={**MONTH, "agency": "999999"}).status_code == 404
    assert session.get("/agencies/report", query_string={**MONTH, "agency": "x'"}).status_code == 404
