"""Click-to-edit on the client page, in a tablet browser: the field changes in place."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.models import AuditLog, Customer

from .conftest import ARTIFACTS, login_in_browser


def _open_client_page(page, live_server, make_user, make_customer):
    owner = make_user("rep", username="lina", display_name="李娜")
    customer = make_customer(owner=owner, name="张三丰", phone="13912345678", budget="800-1000万")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    # Survives only if the page is never reloaded.
    page.evaluate("window.villaNoReload = true")
    return customer


def test_owner_changes_the_budget_in_place(page, live_server, make_user, make_customer):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    budget = page.locator("#field-budget")
    expect(budget.locator("[data-testid=value-budget]")).to_have_text("800-1000万")
    budget.locator("[data-testid=edit-budget]").click()
    form = page.locator("form#field-budget")
    expect(form).to_be_visible()
    form.locator("select[name=budget]").select_option("1500-2000万")
    form.locator("[data-testid=save-budget]").click()
    expect(page.locator("div#field-budget [data-testid=value-budget]")).to_have_text("1500-2000万")
    # The history on the timeline shows the change without a reload.
    change = page.locator("#timeline [data-testid=event-field_changed]").first
    expect(change).to_contain_text("800-1000万")
    expect(change).to_contain_text("1500-2000万")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(customer.id).budget == "1500-2000万"
    assert AuditLog.select().where(AuditLog.action == "field_changed").count() == 1


def test_follow_up_then_budget_edit_both_land_on_the_timeline(page, live_server, make_user, make_customer):
    """The rep's flow on the client page: log a call, then correct the budget, without a reload."""
    _open_client_page(page, live_server, make_user, make_customer)
    page.fill("#followup-content", "电话回访，客户想看湖景独栋")
    page.check("#followup-reached")
    page.click("#followup-form button[type=submit]")
    first = page.locator("#timeline > li").first
    expect(first).to_contain_text("电话回访，客户想看湖景独栋")
    expect(page.locator("#followup-content")).to_have_value("")
    page.locator("[data-testid=edit-budget]").click()
    page.locator("form#field-budget select[name=budget]").select_option("2000万+")
    page.locator("[data-testid=save-budget]").click()
    expect(page.locator("#timeline > li").first).to_contain_text("2000万+")
    expect(page.locator("#timeline")).to_contain_text("电话回访，客户想看湖景独栋")
    assert page.evaluate("window.villaNoReload") is True
    page.screenshot(path=str(ARTIFACTS / "client-page.png"), full_page=True)


def test_a_wrong_phone_shows_the_message_in_place_and_cancel_restores(
    page, live_server, make_user, make_customer
):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    page.locator("[data-testid=edit-phone]").click()
    form = page.locator("form#field-phone")
    form.locator("input[name=phone]").fill("139123")
    form.locator("[data-testid=save-phone]").click()
    expect(form.locator("[data-testid=error-phone]")).to_be_visible()
    expect(form.locator("input[name=phone]")).to_have_value("139123")
    form.locator("[data-testid=cancel-phone]").click()
    expect(page.locator("div#field-phone [data-testid=value-phone]")).to_have_text("139****5678")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(customer.id).phone == "+8613912345678"
