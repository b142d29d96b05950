"""The front desk on a tablet: live duplicate warning, registering, the conflict notice."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, login_in_browser

# Timestamps taken inside the page (CDP init scripts are not subject to the page's CSP): the
# moment of the last keystroke in the phone field, and the moment the warning entered the DOM.
WATCH_WARNING = """
window.__villa = {};
document.addEventListener("keydown", (e) => {
  if (e.target.id === "phone") { window.__villa.lastKey = performance.now(); }
}, true);
new MutationObserver(() => {
  if (!window.__villa.shown && document.querySelector("[data-testid=dup-warning]")) {
    window.__villa.shown = performance.now();
  }
}).observe(document, {childList: true, subtree: true});
"""


def test_known_phone_typed_in_another_format_warns_within_400ms(page, live_server, make_user, make_customer):
    owner = make_user("rep", display_name="李娜")
    make_customer(owner=owner, name="张三丰", phone="13912345678")
    make_user("reception", username="desk")
    login_in_browser(page, live_server, "desk", PASSWORD)
    page.add_init_script(WATCH_WARNING)
    page.goto(f"{live_server}/reception/register")
    phone = page.locator("#phone")
    phone.click()
    phone.press_sequentially("+86 139-1234-5678", delay=40)
    warning = page.locator("[data-testid=dup-warning]")
    warning.wait_for(state="visible", timeout=2000)
    elapsed = page.evaluate("window.__villa.shown - window.__villa.lastKey")
    print(f"dup warning {elapsed:.0f} ms after the last keystroke")
    assert elapsed < 400, f"warning took {elapsed:.0f} ms after the last keystroke"
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
    page.click("[data-testid=more-info] > summary")  # the budget is under 更多信息
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


def test_rotation_updates_on_another_tablet_without_reload(browser, page, live_server, make_user):
    make_user("rep", username="lina", display_name="李娜")
    make_user("rep", username="wei", display_name="张伟")
    make_user("reception", username="desk")
    make_user("manager", username="boss")
    login_in_browser(page, live_server, "desk", PASSWORD)
    page.goto(f"{live_server}/reception/")
    other = browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN").new_page()
    login_in_browser(other, live_server, "boss", PASSWORD)
    other.goto(f"{live_server}/reception/")
    expect(other.locator("[data-testid=no-next-rep]")).to_be_visible()

    page.locator("[data-testid=rotation-check-in]", has_text="李娜").click()
    expect(page.locator("[data-testid=next-rep]")).to_have_text("李娜")
    page.locator("[data-testid=rotation-check-in]", has_text="张伟").click()
    expect(page.locator("[data-testid=rotation-entry]")).to_have_count(2)
    # The other tablet polls: the queue appears there without a reload.
    expect(other.locator("[data-testid=next-rep]")).to_have_text("李娜", timeout=8000)
    # 李娜 is next: her one button is 已接待来访; 接待中 is in her row's menu.
    page.locator("[data-rep=lina] [data-testid=rotation-more]").click()
    page.locator("[data-rep=lina] [data-testid=rotation-skip-busy]").click()
    expect(page.locator("[data-testid=next-rep]")).to_have_text("张伟")
    expect(other.locator("[data-testid=next-rep]")).to_have_text("张伟", timeout=8000)
    page.screenshot(path=str(ARTIFACTS / "desk-rotation.png"), full_page=True)
    other.context.close()
