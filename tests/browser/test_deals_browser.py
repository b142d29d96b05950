"""A signing recorded on the client page in a tablet browser, refused without its price, then
confirmed by the manager from their list."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.models import Customer, Deal, office_today

from .conftest import ARTIFACTS, log_out_in_browser, login_in_browser


def test_rep_records_a_signing_and_the_manager_confirms_it(page, live_server, make_user, make_customer):
    manager = make_user("manager", username="wang", display_name="王经理")
    owner = make_user("rep", username="lina", display_name="李娜", manager=manager)
    customer = make_customer(owner=owner, name="张三丰", stage="visited")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    page.locator("[data-testid=stage-change] summary").click()
    page.locator("#stage-next").select_option("signed")
    page.locator("#deal-unit-number").fill("B区12号")
    page.locator("#deal-area").fill("286.5")
    page.locator("#deal-date").fill(office_today().isoformat())
    page.locator("#deal-payment").select_option("mortgage")
    page.locator("[data-testid=stage-save]").click()
    expect(page.locator("[data-testid=error-price]")).to_be_visible()
    expect(page.locator("#deal-unit-number")).to_have_value("B区12号")  # what was typed stays
    page.locator("#deal-price").fill("1280万")
    page.locator("[data-testid=stage-save]").click()
    expect(page.locator("[data-testid=stage-waiting]")).to_be_visible()
    expect(page.locator("[data-testid=stage-current]")).to_have_text("已到访")
    page.screenshot(path=str(ARTIFACTS / "deal-waiting.png"), full_page=True)

    log_out_in_browser(page)
    login_in_browser(page, live_server, "wang", PASSWORD)
    page.locator("[data-testid=count-deals_waiting]").click()
    deal = Deal.get()
    page.locator(f"[data-testid=confirm-deal-{deal.id}]").click()
    expect(page.locator("[data-testid=no-waiting-deals]")).to_be_visible()
    assert Customer.get_by_id(customer.id).stage == "signed"
    page.goto(f"{live_server}/customers/{customer.id}")
    expect(page.locator(f"[data-testid=deal-status-{deal.id}]")).to_have_text("已确认")
    page.locator("#stage").screenshot(path=str(ARTIFACTS / "deal-confirmed.png"))
