"""The 报备 on the client page (for who sees the customer in full) and as evidence on a dispute."""

from datetime import datetime

from tests.agency_data import make_agency, make_broker, make_report
from villa.ownership import open_dispute


def test_the_client_page_shows_the_confirmed_report_to_who_sees_the_customer_in_full(
    team, make_user, make_customer, login, login_as
):
    manager, rep = team
    desk = make_user("reception", display_name="小林")
    customer = make_customer(owner=rep, name="赵一鸣", channel="broker")
    make_report(make_broker(make_agency("链家"), "王一"), desk, datetime(2026, 11, 2, 2), customer, desk)
    for session in (login(rep), login(manager), login_as("auditor")):
        page = session.get(f"/customers/{customer.id}").get_data(as_text=True)
        panel = page[page.index('data-testid="report-panel"') :]
        assert "链家" in panel and "王一" in panel and "2026-11-02 10:00" in panel and "小林" in panel
        assert "已确客" in panel or "Visit confirmed" in panel or "到访" in panel
    other = login_as("rep").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="report-panel"' not in other and "链家" not in other


def test_a_dispute_shows_the_report_times_beside_the_registration(team, make_user, make_customer, login):
    manager, rep = team
    claimant = make_user("rep", manager=manager, display_name="张伟")
    desk = make_user("reception", display_name="小林")
    customer = make_customer(owner=rep, name="赵一鸣", channel="broker")
    make_report(make_broker(make_agency("链家"), "王一"), desk, datetime(2026, 11, 2, 2), customer, desk)
    dispute = open_dispute(customer, claimant, "客户说是我先接待的")
    page = login(manager).get("/disputes/").get_data(as_text=True)
    table = page[page.index(f'data-testid="dispute-report-{dispute.id}"') :]
    table = table[: table.index("</table>")]
    assert "链家 · 王一" in table and "2026-11-02 10:00" in table and "2026-11-02 12:00 · 小林" in table
    assert "张伟" in table
