"""Click-to-edit on the client page, in a tablet browser: a section's fields change in place."""

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


class Requests:
    """The requests the page sends to the app (not static files) from now on."""

    def __init__(self, page, live_server):
        self.sent, self.base = [], live_server
        page.on("request", self._seen)

    def _seen(self, request):
        if request.url.startswith(self.base) and "/static/" not in request.url:
            self.sent.append(f"{request.method} {request.url[len(self.base) :]}")

    def during(self, page, action):
        """The requests `action` makes, once the page has had time to send any follow-up ones."""
        start = len(self.sent)
        action()
        page.wait_for_timeout(500)  # a trigger-driven refetch would have gone out by now
        return self.sent[start:]


def _edit_section(page, name):
    """Tap the section's 编辑: its fields come as one form in place."""
    page.locator(f"[data-testid=edit-section-{name}]").click()
    form = page.locator(f"[data-testid=section-form-{name}]")
    expect(form).to_be_visible()
    return form


def test_owner_changes_the_budget_in_place(page, live_server, make_user, make_customer):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    requests = Requests(page, live_server)
    needs = page.locator("#section-needs")
    expect(needs.locator("[data-testid=value-budget]")).to_have_text("800-1000万")
    form = _edit_section(page, "needs")
    form.locator("select[name=budget]").select_option("1500-2000万")

    def save():
        form.locator("[data-testid=save-section-needs]").click()
        expect(page.locator("article#section-needs [data-testid=value-budget]")).to_have_text("1500-2000万")

    # One request: the answer carries the section, the header and the timeline entry.
    assert requests.during(page, save) == [f"POST /customers/{customer.id}/sections/needs"]
    # The history on the timeline shows the change without a reload.
    change = page.locator("#timeline > li").first
    expect(change).to_have_attribute("data-testid", "event-field_changed")
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
    form = _edit_section(page, "needs")
    form.locator("select[name=budget]").select_option("2000万+")
    form.locator("[data-testid=save-section-needs]").click()
    expect(page.locator("#timeline > li").first).to_contain_text("2000万+")
    expect(page.locator("#timeline")).to_contain_text("电话回访，客户想看湖景独栋")
    assert page.evaluate("window.villaNoReload") is True
    page.screenshot(path=str(ARTIFACTS / "client-page.png"), full_page=True)


def test_a_wrong_phone_shows_the_message_in_place_and_cancel_restores(
    page, live_server, make_user, make_customer
):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    form = _edit_section(page, "contact")
    form.locator("input[name=phone]").fill("139123")
    form.locator("[data-testid=save-section-contact]").click()
    expect(form.locator("[data-testid=error-phone]")).to_be_visible()
    expect(form.locator("input[name=phone]")).to_have_value("139123")
    form.locator("[data-testid=cancel-section-contact]").click()
    expect(page.locator("article#section-contact [data-testid=phone]")).to_have_text("139****5678")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(customer.id).phone == "+8613912345678"


def test_a_new_name_shows_in_the_header_at_once(page, live_server, make_user, make_customer):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    form = _edit_section(page, "contact")
    form.locator("input[name=name]").fill("张三峰")
    form.locator("[data-testid=save-section-contact]").click()
    expect(page.locator("#client-header [data-testid=customer-name]")).to_have_text("张三峰")
    expect(page.locator("article#section-contact [data-testid=value-name]")).to_have_text("张三峰")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(customer.id).name == "张三峰"


def test_the_stage_form_opens_with_its_section_and_the_header_follows(
    page, live_server, make_user, make_customer
):
    customer = _open_client_page(page, live_server, make_user, make_customer)
    requests = Requests(page, live_server)
    expect(page.locator("#stage-next")).to_have_count(0)  # not drawn until the section opens

    def open_section():
        page.locator("[data-testid=stage-change] summary").click()
        expect(page.locator("#stage-next")).to_be_visible()

    assert requests.during(page, open_section) == [f"GET /customers/{customer.id}/stage"]
    page.locator("#stage-next").select_option("pledged")
    page.locator("#deal-unit-number").fill("A-12")
    page.locator("#deal-area").fill("286.5")
    page.locator("#deal-price").fill("20万")
    page.locator("#deal-date").fill("2026-01-05")
    page.locator("#deal-payment").select_option("full")

    def save():
        page.locator("[data-testid=stage-save]").click()
        expect(page.locator("[data-testid=stage-current]")).to_have_text("认筹")

    assert requests.during(page, save) == [f"POST /customers/{customer.id}/stage"]
    expect(page.locator("#client-header")).to_contain_text("认筹")
    expect(page.locator("#timeline > li").first).to_have_attribute("data-testid", "event-deal_recorded")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(customer.id).stage == "pledged"


def test_a_manager_opens_the_reassign_section_and_reassigns(page, live_server, make_user, make_customer):
    manager = make_user("manager", username="wang", display_name="王经理")
    owner = make_user("rep", display_name="李娜", manager=manager)
    make_user("rep", username="zhangwei", display_name="张伟", manager=manager)
    customer = make_customer(owner=owner, name="张三丰")
    login_in_browser(page, live_server, "wang", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    expect(page.locator("[data-testid=reassign-form]")).to_have_count(0)
    page.locator("[data-testid=reassign] summary").click()
    form = page.locator("[data-testid=reassign-form]")
    form.locator("select[name=owner_id]").select_option(label="张伟 (zhangwei)")
    form.locator("textarea[name=reason]").fill("李娜休假")
    form.locator("[data-testid=reassign-submit]").click()
    expect(page.locator("#client-header [data-testid=owner]")).to_have_text("张伟")
    assert Customer.get_by_id(customer.id).owner.display_name == "张伟"
