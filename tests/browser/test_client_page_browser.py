"""The client page on a tablet and a phone: section editing, the follow-up form near the top, no
console errors; screenshots for the owner rep, the manager and the desk right after registering."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.followups import add_followup
from villa.models import AuditLog, Channel, Customer, User
from villa.registration import Registration, register

from .conftest import ARTIFACTS, login_in_browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}


def _registered(make_user):
    """A customer the desk registered a moment ago for the rep 李娜, with needs and a follow-up."""
    manager = make_user("manager", username="wang", display_name="王经理")
    rep = make_user("rep", username="lina", display_name="李娜", manager=manager)
    desk = make_user("reception", username="desk", display_name="前台小周")
    entry = Registration(
        name="张三丰",
        phone="13912345678",
        gender="M",
        visit_type="call",
        channel=Channel.get(Channel.code == "walk_in"),
        owner=rep,
        details={"budget": "800-1000万", "unit_type": "独栋", "notes": "想看湖景"},
    )
    customer = register(desk, entry)
    add_followup(customer, User.get_by_id(rep.id), kind="call", content="电话回访，约周六看房", reached=True)
    return customer


def _console_errors(page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def _open(browser, live_server, username, customer, viewport=TABLET):
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(5000)
    errors = _console_errors(page)
    login_in_browser(page, live_server, username, PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    expect(page.locator("[data-testid=customer-name]")).to_be_visible()
    return context, page, errors


# Controls a finger taps (a tick box or radio button by its label); inline text links are exempt
# (WCAG 2.5.8).
CONTROLS = ", ".join(
    f".client-page {selector}"
    for selector in (
        "button",
        "[role=button]",
        "summary",
        "select",
        "input:not([type=hidden], [type=radio], [type=checkbox])",
        "label:has(> input[type=radio], > input[type=checkbox])",
    )
)
SMALL_CONTROLS = f"""
[...document.querySelectorAll("{CONTROLS}")]
  .filter((el) => el.offsetParent !== null)
  .map((el) => [el.dataset.testid || el.id || el.name || el.textContent.trim(), el.getBoundingClientRect()])
  .filter(([, box]) => box.height < 44 - 0.5 || box.width < 24)
  .map(([name, box]) => `${{name}} ${{Math.round(box.width)}}x${{Math.round(box.height)}}`)
"""


@pytest.mark.parametrize("who", ["lina", "wang", "desk"])
def test_screens_of_the_client_page(browser, live_server, make_user, who):
    """The owner rep, her manager and the desk right after registering: nothing overflows, no
    control smaller than a finger, no console error (the CSP refuses inline styles); screenshots."""
    customer = _registered(make_user)
    for name, viewport in (("tablet", TABLET), ("phone", PHONE)):
        context, page, errors = _open(browser, live_server, who, customer, viewport)
        height = page.evaluate("document.body.scrollHeight")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"client-{who}-{name}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        small = page.evaluate(SMALL_CONTROLS)
        # The desk right after its own registration is not told it may not change the customer.
        read_only = page.locator("[data-testid=read-only]").count()
        context.close()
        print(f"{who} {name}: height {height} px")
        assert overflow <= 0
        assert small == []
        assert errors == []
        assert read_only == 0


def test_a_section_saves_only_the_field_that_changed(browser, live_server, make_user):
    customer = _registered(make_user)
    context, page, errors = _open(browser, live_server, "lina", customer)
    needs = page.locator("#section-needs")
    expect(needs.locator("[data-testid=edit-section-needs]")).to_have_text("编辑")
    # One 编辑 per section, no button per field.
    expect(page.locator("[data-testid^=edit-]:not([data-testid^=edit-section-])")).to_have_count(0)
    needs.locator("[data-testid=edit-section-needs]").click()
    form = page.locator("[data-testid=section-form-needs]")
    expect(form.locator("select[name=unit_type]")).to_have_value("独栋")
    form.locator("select[name=budget]").select_option("1500-2000万")
    form.locator("[data-testid=save-section-needs]").click()
    expect(page.locator("article#section-needs [data-testid=value-budget]")).to_have_text("1500-2000万")
    expect(page.locator("article#section-needs [data-testid=value-unit_type]")).to_have_text("独栋")
    change = page.locator("#timeline > li").first
    expect(change).to_have_attribute("data-testid", "event-field_changed")
    expect(change.locator(".changes > li")).to_have_count(1)
    expect(change).to_contain_text("预算")
    stored = Customer.get_by_id(customer.id)
    assert (stored.budget, stored.unit_type, stored.notes) == ("1500-2000万", "独栋", "想看湖景")
    changed = AuditLog.select().where(AuditLog.customer == customer.id, AuditLog.action == "field_changed")
    assert [row.change_map for row in changed] == [{"budget": ["800-1000万", "1500-2000万"]}]
    # Saved again as it is: nothing is written.
    page.locator("[data-testid=edit-section-needs]").click()
    page.locator("[data-testid=save-section-needs]").click()
    expect(page.locator("article#section-needs [data-testid=value-budget]")).to_have_text("1500-2000万")
    assert changed.count() == 1
    context.close()
    assert errors == []


def test_the_follow_up_saved_on_a_phone_says_so_and_shows_the_entry(browser, live_server, make_user):
    customer = _registered(make_user)
    context, page, errors = _open(browser, live_server, "lina", customer, PHONE)
    jump = page.locator("[data-testid=write-followup]")
    expect(jump).to_be_in_viewport()
    expect(page.locator("#followup-form")).to_be_hidden()  # behind the button on a phone
    jump.click()
    expect(page.locator("#followup-content")).to_be_focused()
    expect(page.locator("#followup-form")).to_be_in_viewport()
    page.locator("#followup-content").fill("客户周六带家人来看样板间")
    page.locator("[data-testid=followup-submit]").click()
    saved = page.locator("[data-testid=followup-saved]")
    expect(saved).to_contain_text("已保存跟进记录")
    expect(saved).to_be_in_viewport()
    entry = page.locator("#timeline > li").first
    expect(entry).to_contain_text("客户周六带家人来看样板间")
    expect(entry).to_be_in_viewport()
    expect(page.locator("#followup-content")).to_have_value("")
    page.screenshot(path=str(ARTIFACTS / "client-followup-saved-phone.png"))
    context.close()
    assert errors == []
