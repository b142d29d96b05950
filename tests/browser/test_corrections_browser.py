"""A customer corrects their details from the QR code the rep shows; the manager approves."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.models import ChangeRequest, Customer

from .conftest import log_out_in_browser, login_in_browser

PHONE = {"width": 390, "height": 844}


def test_rep_shows_the_qr_code_customer_corrects_manager_approves(
    browser, page, live_server, make_user, make_customer
):
    manager = make_user("manager", username="boss")
    owner = make_user("rep", username="lina", manager=manager)
    customer = make_customer(owner=owner, name="张三丰", phone="13800138000", budget="800-1000万")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    page.locator("[data-testid=create-correction-link]").click()
    expect(page.locator("svg.qr-code")).to_be_visible()
    box = page.locator("svg.qr-code").bounding_box()
    assert box["width"] > 100 and box["height"] > 100
    url = page.locator("[data-testid=correction-url]").inner_text()

    context = browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True)
    phone = context.new_page()
    try:
        phone.goto(url)
        expect(phone.locator("[data-testid=masked-phone]")).to_have_text("138****8000")
        phone.fill("input[name=phone]", "139 1234 5678")
        phone.locator("select[name=budget]").select_option("1000-1500万")
        phone.locator("[data-testid=send-correction]").click()
        expect(phone.locator("[data-testid=correction-thanks]")).to_be_visible()
    finally:
        context.close()
    assert ChangeRequest.get().status == "pending"

    log_out_in_browser(page)
    login_in_browser(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/corrections/")
    change = ChangeRequest.get()
    expect(page.locator(f"[data-testid=change-{change.id}]")).to_contain_text("139****5678")
    page.locator(f"[data-testid=approve-{change.id}]").click()
    expect(page.locator("[data-testid=no-corrections]")).to_be_visible()
    assert Customer.get_by_id(customer.id).budget == "1000-1500万"
