"""First browser test: log in on a tablet and land on the role's home, in Chinese."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, log_out_in_browser, login_in_browser


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor", "admin"])
def test_login_shows_the_roles_home_in_chinese(page, live_server, make_user, role):
    user = make_user(role, username=f"{role}1", display_name="测试用户")
    login_in_browser(page, live_server, user.username, PASSWORD)
    # The receptionist's home is the desk.
    home = "desk-heading" if role == "reception" else f"home-{role}"
    assert page.locator(f"[data-testid={home}]").is_visible()
    assert "退出登录" in page.content()
    # The navigation fits the tablet: nothing runs off the right edge, and even a manager's ten
    # links and the account menu stay on one row.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024
    nav = page.locator("nav.topnav").bounding_box()
    assert nav["height"] < 70, f"the top navigation wraps onto a second row ({nav['height']:.0f} px)"
    if role == "rep":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "home-rep.png"), full_page=True)


def test_account_menu_holds_role_password_language_and_log_out(page, live_server, make_user):
    make_user("manager", username="wang", display_name="王经理")
    login_in_browser(page, live_server, "wang", PASSWORD)
    menu = page.locator("[data-testid=account-menu]")
    expect(page.locator("[data-testid=who]")).to_have_text("王经理")
    expect(menu.get_by_text("修改密码")).to_be_hidden()

    page.click("[data-testid=who]")
    expect(menu.get_by_text("销售经理")).to_be_visible()
    expect(menu.get_by_role("link", name="修改密码")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu.get_by_text("修改密码")).to_be_hidden()

    page.click("[data-testid=who]")
    menu.get_by_role("link", name="修改密码").click()
    page.wait_for_url("**/account/password")
    log_out_in_browser(page)
    page.goto(f"{live_server}/")
    page.wait_for_url("**/login**")


def test_account_menu_stays_top_right_when_the_links_wrap(page, live_server, make_user):
    """In English a manager's links need two rows at tablet width: they wrap beside the menu."""
    make_user("manager", username="wang", display_name="王经理")
    login_in_browser(page, live_server, "wang", PASSWORD)
    page.goto(f"{live_server}/lang/en?next=/")
    nav = page.locator("nav.topnav").bounding_box()
    who = page.locator("[data-testid=who]").bounding_box()
    first_link = page.locator("nav.topnav a.brand").bounding_box()
    assert nav["height"] > 70  # the links did wrap
    assert who["y"] < first_link["y"] + first_link["height"], "the account menu fell below the links"
    assert who["x"] + who["width"] <= 1024


def test_wrong_password_stays_on_login_with_message(page, live_server, make_user):
    make_user("rep", username="lina")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "lina")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator("[data-testid=error-password]").is_visible()
    assert page.input_value("input[name=username]") == "lina"


def test_htmx_search_sends_csrf_and_updates_rows(page, live_server, make_user, make_customer):
    rep = make_user("rep", username="lina")
    make_customer(owner=rep, name="李四", phone="13912345678")
    make_customer(owner=rep, name="王五", phone="13700001111")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/customers/")
    page.fill("input[name=q]", "139 1234 5678")
    expect(page.locator("#customer-rows tr")).to_have_count(1)
    expect(page.locator("#customer-rows")).to_contain_text("李四")  # her own customer: the name in full
