"""The client page on a tablet and a phone: section editing, the follow-up form near the top, no
console errors; screenshots for the owner rep, the manager and the desk right after registering."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.followups import add_followup
from villa.models import Channel, User
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


@pytest.mark.parametrize("who", ["lina", "wang", "desk"])
def test_screens_of_the_client_page(browser, live_server, make_user, who):
    customer = _registered(make_user)
    heights = {}
    for name, viewport in (("tablet", TABLET), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1, has_touch=True)
        page = context.new_page()
        errors = _console_errors(page)
        login_in_browser(page, live_server, who, PASSWORD)
        page.goto(f"{live_server}/customers/{customer.id}")
        expect(page.locator("[data-testid=customer-name]")).to_be_visible()
        heights[name] = page.evaluate("document.body.scrollHeight")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"client-{who}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        context.close()
        print(f"{who} {name}: height {heights[name]} px, overflow {overflow}, console errors {len(errors)}")
        assert overflow <= 0
        assert errors == []
