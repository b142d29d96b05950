"""A rep sees the bell's count after the page, and marking a notification read counts again in place."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.notify.messages import notify

from .conftest import ARTIFACTS, login_in_browser

VISIT = {"name": "王**", "visit": "visit", "at": "2026-11-05T02:30"}


def test_the_bell_counts_and_marking_read_counts_again(page, live_server, make_user):
    rep = make_user("rep", username="lina", display_name="李娜")
    first, second = (notify(rep, "return_visit", f"visit:{n}", VISIT) for n in range(2))
    login_in_browser(page, live_server, "lina", PASSWORD)
    expect(page.locator("[data-testid=bell-count]")).to_have_text("2")

    page.click("[data-testid=bell]")
    page.wait_for_url(f"{live_server}/notifications/")
    page.evaluate("window.villaNoReload = true")
    entry = page.locator(f"#notification-{second.id}")
    expect(entry).to_contain_text("您的客户 王** 再次来到售楼处")
    entry.locator("[data-testid=mark-read]").click()

    expect(entry.locator("[data-testid=mark-read]")).to_have_count(0)
    expect(page.locator("[data-testid=bell-count]")).to_have_text("1")
    expect(page.locator(f"#notification-{first.id} [data-testid=mark-read]")).to_be_visible()
    assert page.evaluate("window.villaNoReload === true"), "the page reloaded"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifications-inbox.png"), full_page=True)
