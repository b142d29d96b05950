"""The page sweep: every role opens every page it may open, at the tablet's two orientations and on a
phone, the way a person looks at it.

Pages come from the url_map (tests/test_access.py: app_routes, POLICY), their ids filled in from the
demo data; what does not answer 200 with a whole HTML page (fragments, exports, redirects, the id of
nothing) is not a page and is left out. Each page and viewport fails on:

- "overflow": the page scrolls sideways (document.scrollingElement.scrollWidth > innerWidth);
- "target": a visible control smaller than 44x44 px (TARGET_JS says which count and which not);
- "axe": an axe-core violation of impact serious or critical;
- "console": an error in the console (a CSP refusal, a failed request, a script error).

Each role logs in once, in one browser context that enforces the CSP as served; the viewport is
changed in place. axe-core is added to every document by a context init script (Playwright injects it
through the DevTools protocol, which the page's CSP does not govern, so no bypass and no second
context are needed). Per page and viewport the order is: open, console errors are taken (the listeners
are removed before anything else runs), overflow, targets, axe, then the screenshot -- a screenshot
leaves style="" on inputs, which must not be blamed on the page. Screenshots go to
tests/browser/screens/ (<role>/<endpoint>-<width>.png); each role's count of pages and viewports is
in pytest's summary.
"""

import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.test_access import POLICY, app_routes
from villa.demo import DEMO_PASSWORD, load_demo
from villa.models import ROLES, Channel, Customer, FollowUp, Incident, RotationEntry, User

SCREENS = Path(__file__).resolve().parent / "screens"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
VIEWPORTS = ({"width": 1024, "height": 768}, {"width": 768, "height": 1024}, {"width": 390, "height": 844})
CONTEXT = {"locale": "zh-CN", "device_scale_factor": 1, "has_touch": True}
ANONYMOUS = "anonymous"  # the pages before login (the login page itself)
# The demo login of each role. A role without one (a role added to ROLES before the demo has its
# user) is skipped with a note in the summary, so that it is seen, not silently passed.
DEMO_LOGIN = {
    "reception": "reception",
    "rep": "rep",
    "manager": "manager",
    "auditor": "auditor",
    "admin": "admin",
    "broker": "broker1",  # an agency's broker (villa.demo: 链家's 周强)
}
MIN_TARGET = 44

# Which controls count, and the one kind that is exempt. A control is what a finger taps: links,
# buttons, fields, disclosure summaries, anything with role=button. A checkbox or radio is measured by
# its label (the label is what is tapped). Exempt: a link that is part of running text -- displayed
# inline, inside a paragraph or a table cell that holds other words besides the link (WCAG 2.5.8's
# "inline" exception: the sentence sets its size). A link alone in its cell or list item is a control
# and must be 44 px.
TARGET_JS = """
(min) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]';
  const words = (node) => (node.textContent || '').replace(/\\s+/g, '');
  const inRunningText = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = el.parentElement.closest('p, td, dd, li, blockquote, figcaption');
    if (!block || block.matches('li')) return false;
    return words(block).length - words(el).length >= 2;
  };
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    let box = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      box = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    const r = box.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.width >= min - 0.5 && r.height >= min - 0.5) continue;
    if (inRunningText(el)) continue;
    const name = (el.getAttribute('aria-label') || el.textContent || el.value || el.name || '').trim();
    small.push(`${el.tagName.toLowerCase()} "${name.replace(/\\s+/g, ' ').slice(0, 30)}" ` +
               `${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return small;
}
"""
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
AXE_JS = """
async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') +
              (v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : ''));
}
"""


def demo_values() -> dict:
    """Route arguments from the demo data: the rep's busiest customer and its follow-up, the rep, a
    rep on duty at the desk, a channel, an incident."""
    rep = User.get(User.username == "rep")
    followup = (
        FollowUp.select()
        .join(Customer)
        .where(Customer.owner == rep, FollowUp.author == rep)
        .order_by(FollowUp.id)
        .first()
    )
    on_duty = RotationEntry.select().where(RotationEntry.rep != rep).first()
    incident = Incident.select().first()
    return {
        "customer_id": followup.customer_id,
        "followup_id": followup.id,
        "user_id": rep.id,
        "rep_id": rep.id,
        "channel_id": Channel.select().first().id,
        **({"incident_id": incident.id} if incident else {}),
        **({} if on_duty is None else {"rotation_rep_id": on_duty.rep_id}),
    }


def candidate_urls(app, role, values) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET route the role is not refused (POLICY), arguments filled in."""
    urls = []
    for route in app_routes(app):
        if "GET" not in route.methods or route.endpoint == "static":
            continue
        statuses = POLICY.get(route.endpoint, {})
        if role == ANONYMOUS and not route.public:
            continue
        if role != ANONYMOUS and statuses.get(role) == 403:
            continue
        filled = dict(values)
        if route.endpoint == "reception.rotation_out_of_turn" and "rotation_rep_id" in values:
            filled["rep_id"] = values["rotation_rep_id"]
        urls.append((route.endpoint, route.url(**filled)))
    return urls


def whole_pages(context, base, candidates) -> list[tuple[str, str]]:
    """Those of the candidates that answer 200 with a whole HTML page (no redirect, no fragment)."""
    pages = []
    for endpoint, url in candidates:
        response = context.request.get(base + url, max_redirects=0)
        if response.status != 200 or not response.headers.get("content-type", "").startswith("text/html"):
            continue
        if "<html" not in response.text()[:500].lower():
            continue
        pages.append((endpoint, url))
    return pages


def log_in(context, base, username):
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def open_page(page, url):
    page.goto(url, wait_until="load")
    page.evaluate("() => document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(r)))")


def check_page(page, base, endpoint, url, role, width) -> dict:
    """console, overflow, target, axe on one page at one viewport; then saves its screenshot."""
    errors = []
    on_console = lambda msg: msg.type == "error" and errors.append(msg.text)  # noqa: E731
    on_error = lambda exc: errors.append(str(exc))  # noqa: E731
    page.on("console", on_console)
    page.on("pageerror", on_error)
    try:
        open_page(page, base + url)
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)
    found = {}
    if errors:
        found["console"] = sorted(set(errors))
    scroll_width, inner_width = page.evaluate(OVERFLOW_JS)
    if scroll_width > inner_width:
        found["overflow"] = [f"page is {scroll_width} px wide in a {inner_width} px window"]
    small = page.evaluate(TARGET_JS, MIN_TARGET)
    if small:
        found["target"] = small
    violations = page.evaluate(AXE_JS)
    if violations:
        found["axe"] = violations
    folder = SCREENS / role
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{endpoint}-{width}.png"), full_page=True)
    return found


# The sweep looks at screens, which do not depend on the database: it runs in the SQLite pass of
# CI only, so the PostgreSQL pass (same pages, same templates) does not spend three more minutes.
# One test per role, so that pytest-xdist shares the sweep out among the CPUs.
@pytest.mark.skipif(
    os.environ.get("VILLA_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="screens do not depend on the database: swept in the SQLite run",
)
@pytest.mark.parametrize("role", (ANONYMOUS, *ROLES))
def test_every_page_at_every_size(app, live_server, browser, role, record_property):
    started = time.monotonic()
    username = DEMO_LOGIN.get(role) if role != ANONYMOUS else None
    load_demo(40)
    if role != ANONYMOUS and not User.select().where(User.username == (username or "")).exists():
        # A new role before the demo has a user for it: said in the summary, not silently passed.
        record_property("sweep", f"{role}: no demo login, not swept")
        return
    values = demo_values()
    problems = defaultdict(list)  # (endpoint, check) -> ["width url: what"]
    context = browser.new_context(viewport=VIEWPORTS[0], **CONTEXT)
    context.add_init_script(path=str(AXE))
    page = log_in(context, live_server, username) if username else context.new_page()
    page.set_default_timeout(10_000)
    pages = whole_pages(context, live_server, candidate_urls(app, role, values))
    for viewport in VIEWPORTS:
        page.set_viewport_size(viewport)
        for endpoint, url in pages:
            found = check_page(page, live_server, endpoint, url, role, viewport["width"])
            for check, details in found.items():
                problems[(endpoint, check)].append(f"{viewport['width']} {url}: {'; '.join(details)}")
    context.close()
    record_property(
        "sweep",
        f"{role}: {len(pages)} pages x {len(VIEWPORTS)} viewports = {len(pages) * len(VIEWPORTS)} checks "
        f"({len(problems)} failing, {time.monotonic() - started:.0f} s)",
    )
    report = [
        f"{role} {endpoint} [{check}]\n    " + "\n    ".join(lines)
        for (endpoint, check), lines in sorted(problems.items())
    ]
    assert not report, "\n".join(report)
