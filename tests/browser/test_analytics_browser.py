"""The analytics dashboard on a tablet: every chart drawn beside its table, and nothing refused by the CSP."""

import json
from datetime import timedelta

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa.models import AuditLog, Visit, now

from .conftest import ARTIFACTS, login_in_browser

CHANNELS = ("walk_in", "online_ad", "referral", "broker", "offline_event")
STAGES = ("registered", "visited", "visited", "pledged", "subscribed", "signed", "lost")
GRADES = ("A", "B+", "B", "C", "C", "D")


def _seed(make_user, make_customer):
    manager = make_user("manager", username="boss", display_name="王经理")
    reps = [make_user("rep", manager=manager, display_name=name) for name in ("李娜", "张伟", "刘洋")]
    desk = make_user("reception")
    moment = now()
    for n in range(42):
        at = moment - timedelta(days=n % 21, hours=n % 5)
        customer = make_customer(
            owner=reps[n % 3],
            registered_by=desk if n % 4 == 0 else reps[n % 3],
            name=f"客户{n}",
            channel=CHANNELS[n % len(CHANNELS)],
            visit_type="call" if n % 3 == 0 else "visit",
            registered_at=at,
            stage=STAGES[n % len(STAGES)],
            grade=GRADES[n % len(GRADES)],
        )
        Visit.create(customer=customer, received_by=desk, rep=customer.owner, is_first=True, at=at)
        if n % 5 == 0:
            Visit.create(customer=customer, received_by=desk, rep=customer.owner, at=at + timedelta(days=1))
        if n % 6 == 0:
            AuditLog.create(
                customer=customer,
                action="grade_changed",
                changes=json.dumps({"grade": ["C", customer.grade]}),
                at=at + timedelta(hours=2),
            )
        if n % 7 == 0:
            for action, hours in (("released_to_pool", 0), ("pool_claimed", 3)):
                moment_of = at + timedelta(hours=hours)
                AuditLog.create(customer=customer, action=action, changes="{}", at=moment_of)


def test_dashboard_draws_every_chart_at_tablet_size(browser, page, live_server, make_user, make_customer):
    _seed(make_user, make_customer)
    problems = []

    def on_console(message):
        # The browser asks for /favicon.ico on its own; the app has none, and that 404 is not ours.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Recorded from inside the page as well: a CSP refusal fires this event whatever the console says.
    page.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " function (e) { window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    login_in_browser(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/analytics/?preset=90d")
    expect(page.locator("[data-testid=analytics-dashboard]")).to_be_visible()
    canvases = page.locator("canvas[data-chart]")
    expect(canvases).to_have_count(8)  # seven figures and the deals by channel
    all_drawn = "Array.from(document.querySelectorAll('canvas[data-chart]')).every(c => Chart.getChart(c))"
    page.wait_for_function(f"window.Chart && {all_drawn}")
    for index in range(canvases.count()):
        canvas = canvases.nth(index)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (canvas.get_attribute("id"), box)
        table = page.locator(f"[data-testid=rows-{canvas.get_attribute('id').removeprefix('chart-')}]")
        expect(table).to_be_visible()
    # The funnel's bars carry the table's numbers.
    drawn = page.evaluate("Chart.getChart(document.getElementById('chart-funnel')).data.datasets[0].data")
    shown = page.locator("[data-testid=rows-funnel] tbody tr td:nth-child(2)").all_inner_texts()
    assert [str(n) for n in drawn] == shown
    assert drawn[0] == 42
    assert page.evaluate("window.cspViolations") == []
    assert problems == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "analytics-dashboard.png"), full_page=True)
