"""Browser tests: Playwright driving Debian's chromium against a live server, at tablet size."""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("VILLA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TABLET = {"width": 1024, "height": 768}
# Without these, chromium reaches for Google's services on start and the closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_terminal_summary(terminalreporter):
    """The page sweep's count of pages and viewports per role, in the CI log. Each test records its
    line as a property, which reaches this process from pytest-xdist's workers too."""
    lines = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "sweep"
    ]
    if lines:
        terminalreporter.section("page sweep")
        for line in sorted(lines):
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class InFlight:
    """Counts the requests the live server is still answering (each runs in its own thread)."""

    def __init__(self, app):
        self.app, self.count, self.changed = app, 0, threading.Condition()

    def __call__(self, environ, start_response):
        with self.changed:
            self.count += 1
        try:
            body = self.app(environ, start_response)
            try:
                yield from body
            finally:
                if hasattr(body, "close"):  # WSGI: the server would have closed it
                    body.close()
        finally:
            with self.changed:
                self.count -= 1
                self.changed.notify_all()

    def wait_until_idle(self, timeout):
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free loopback port, in a thread.

    At the end it stops taking requests and waits for those under way: a request the browser sent
    last must not still be using a database connection when the next test's app takes over.
    """
    in_flight = InFlight(app)
    server = make_server("127.0.0.1", 0, in_flight, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    finished = in_flight.wait_until_idle(timeout=15)
    server.server_close()
    assert finished, "the live server was still answering a request 15 s after the test"


@pytest.fixture(scope="session")
def browser():
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh tablet-sized page; its screenshot is saved when the test fails."""
    context = browser.new_context(viewport=TABLET, locale="zh-CN", device_scale_factor=1, has_touch=True)
    tab = context.new_page()
    tab.set_default_timeout(5000)
    yield tab
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def login_in_browser(page, live_server, username, password):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    # Home: / for most roles, the desk (/reception/) for the receptionist.
    page.wait_for_url(lambda url: url in (f"{live_server}/", f"{live_server}/reception/"))


def log_out_in_browser(page):
    """Log out the way a user does: open the account menu at the top right, tap 退出登录."""
    page.click("[data-testid=who]")
    page.locator("[data-testid=account-menu] form[action='/logout'] button").click()
    page.wait_for_url("**/login**")
