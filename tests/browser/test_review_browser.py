"""The review queue on a tablet: decisions in place, and the rejection reaching the rep's day."""

from datetime import timedelta

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.models import Customer, now

from .conftest import ARTIFACTS, TABLET, login_in_browser


def test_reviewer_approves_two_and_rejects_one_without_leaving_the_queue(
    browser, page, live_server, make_user, make_customer
):
    manager = make_user("manager", username="boss", display_name="王经理")
    rep = make_user("rep", username="lina", manager=manager, display_name="李娜")
    moment = now()
    first, second, third = (
        make_customer(owner=rep, name=name, registered_at=moment - timedelta(days=days))
        for name, days in (("赵敏", 3), ("钱进", 2), ("孙立", 1))
    )
    login_in_browser(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/review/")
    queue_url = page.url
    page.evaluate("window.villaNoReload = true")
    rows = page.locator("tr[data-testid=review-row]")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("赵敏")  # oldest first

    # One approval by tapping; the next row becomes the current one, and the keyboard takes over.
    page.locator(f"#review-row-{first.id} [data-testid=review-approve]").click()
    expect(page.locator(f"#review-row-{first.id}")).to_have_count(0)
    expect(page.locator(f"#review-row-{second.id}")).to_have_class("review-current")
    page.keyboard.press("j")
    expect(page.locator(f"#review-row-{third.id}")).to_have_class("review-current")
    page.keyboard.press("k")
    expect(page.locator(f"#review-row-{second.id}")).to_have_class("review-current")
    page.keyboard.press("a")
    expect(page.locator(f"#review-row-{second.id}")).to_have_count(0)

    # r opens the current row's rejection at the reason. Sent without one, it comes back in place
    # with its message (a 422 swapped over the row); with a reason, the row goes.
    row = page.locator(f"#review-row-{third.id}")
    expect(row).to_have_class("review-current")
    page.keyboard.press("r")
    expect(row.locator("[data-testid=review-reason]")).to_be_focused()
    row.locator("[data-testid=review-reject]").click()
    expect(row.locator("[data-testid=review-error]")).to_be_visible()
    expect(row.locator("[data-testid=review-reason]")).to_be_focused()
    row.locator("[data-testid=review-reason]").select_option("购房需求信息不完整")
    row.locator("[data-testid=review-note]").fill("请补充预算")
    row.locator("[data-testid=review-reject]").click()
    expect(rows).to_have_count(0)

    assert page.url == queue_url
    assert page.evaluate("window.villaNoReload") is True
    statuses = [Customer.get_by_id(c.id).review_status for c in (first, second, third)]
    assert statuses == ["pending_second", "pending_second", "rejected"]
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

    context = browser.new_context(viewport=TABLET, locale="zh-CN", device_scale_factor=1, has_touch=True)
    rep_page = context.new_page()
    rep_page.set_default_timeout(5000)
    try:
        login_in_browser(rep_page, live_server, "lina", PASSWORD)
        to_fix = rep_page.locator("[data-testid=to-fix]")
        expect(to_fix).to_contain_text("孙立")
        expect(to_fix.locator("[data-testid=to-fix-reason]")).to_have_text("购房需求信息不完整：请补充预算")
        rep_page.screenshot(path=str(ARTIFACTS / "review-rep-to-fix.png"), full_page=True)
    finally:
        context.close()
