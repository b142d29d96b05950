"""The registration form on a tablet: essentials first, live number checks, the error summary,
返回修改 from the conflict page, and the desk's next steps after a registration."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.rotation import check_in

from .conftest import ARTIFACTS, login_in_browser

PHONE_SIZE = {"width": 390, "height": 844}


def shoot(page, name):
    """Save what the desk sees (the whole page) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"register-{name}.png"), full_page=True)


def at_the_desk(page, live_server, make_user):
    """The receptionist at the register form, with a rep checked in to the rotation."""
    rep = make_user("rep", username="lina", display_name="李娜")
    desk = make_user("reception", username="desk")
    check_in(rep, desk)
    login_in_browser(page, live_server, "desk", PASSWORD)
    page.goto(f"{live_server}/reception/register")
    return rep


def in_viewport(page, selector):
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    bottom, right = box["y"] + box["height"], box["x"] + box["width"]
    return box["y"] >= 0 and bottom <= size["height"] and right <= size["width"]


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_essentials_and_the_register_button_are_on_the_first_screen(page, live_server, make_user):
    at_the_desk(page, live_server, make_user)
    assert in_viewport(page, "[data-testid=register-submit]"), "登记 must show without scrolling at 1024x768"
    for essential in ("#phone", "#name", "#gender-0", "#visit_type-0", "#channel", "#rep", "#consent"):
        assert in_viewport(page, essential), f"{essential} is below the first screen"
    expect(page.locator("#phone")).to_be_focused()
    expect(page.locator("[data-testid=more-info]")).not_to_have_attribute("open", "")
    expect(page.locator("#id_number")).to_be_hidden()
    expect(page.locator("fieldset.radios legend").nth(1)).to_have_text("接待类型")
    shoot(page, "fresh-1024")
    page.click("[data-testid=more-info] > summary")
    expect(page.locator("#id_number")).to_be_visible()
    page.set_viewport_size(PHONE_SIZE)
    page.goto(page.url)
    assert no_sideways_scroll(page)
    shoot(page, "fresh-390")
