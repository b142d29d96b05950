"""The front desk on a tablet: live duplicate warning, registering, the conflict notice."""

import time

from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, login_in_browser


def test_known_phone_typed_in_another_format_warns_within_400ms(page, live_server, make_user, make_customer):
    owner = make_user("rep", display_name="李娜")
    make_customer(owner=owner, name="张三丰", phone="13912345678")
    make_user("reception", username="desk")
    login_in_browser(page, live_server, "desk", PASSWORD)
    page.goto(f"{live_server}/reception/register")
    phone = page.locator("#phone")
    phone.click()
    phone.press_sequentially("+86 139-1234-567", delay=40)
    phone.press("8")
    last_keystroke = time.monotonic()
    warning = page.locator("[data-testid=dup-warning]")
    warning.wait_for(state="visible", timeout=2000)
    elapsed = time.monotonic() - last_keystroke
    assert elapsed < 0.4, f"warning took {elapsed * 1000:.0f} ms after the last keystroke"
    expect(warning).to_contain_text("张**")
    expect(warning).to_contain_text("李娜")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "register-dup-warning.png"), full_page=True)


def test_register_then_register_again_shows_the_conflict(page, live_server, make_user):
    make_user("rep", username="lina", display_name="李娜")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/reception/register")
    page.fill("#name", "王建国")
    page.fill("#phone", "137 0000 1111")
    page.select_option("#channel", "walk_in")
    page.select_option("#budget", "1000-1500万")
    page.check("#consent")
    page.click("[data-testid=register-submit]")
    page.wait_for_url(f"{live_server}/customers/*")
    expect(page.locator("[data-testid=customer-name]")).to_have_text("王建国")

    page.goto(f"{live_server}/reception/register")
    page.fill("#name", "王建国")
    page.fill("#phone", "+86-13700001111")
    expect(page.locator("[data-testid=dup-warning]")).to_be_visible()
    page.check("#consent")
    page.click("[data-testid=register-submit]")
    conflict = page.locator("[data-testid=dup-conflict]")
    expect(conflict).to_be_visible()
    expect(conflict.locator("[data-testid=log-return-visit]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "register-conflict.png"), full_page=True)


def test_register_form_fits_portrait_and_landscape_tablets(page, live_server, make_user):
    make_user("reception", username="desk")
    login_in_browser(page, live_server, "desk", PASSWORD)
    for width, height in ((1024, 768), (768, 1024)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server}/reception/register")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("[data-testid=register-submit]").bounding_box()
        assert box["height"] >= 44, "touch targets are at least 44 px high"
    page.screenshot(path=str(ARTIFACTS / "register-portrait.png"), full_page=True)
