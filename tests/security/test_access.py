"""Every role against every route of the served app, and the security headers on every page.

Routes come from the app's url_map, so a new page is covered the day it is added: anonymous users are
sent to /login (htmx: 401 + HX-Redirect), nobody ever gets a 500, /admin is the admin's alone, and
every HTML answer carries the CSP, nosniff, no-store and referrer headers.
"""

from urllib.parse import parse_qs, urlparse

import pytest

from tests.security.conftest import ROLES
from tests.security.factory import UNAVAILABLE_BY_DESIGN

ANONYMOUS = "anonymous"
ALL = set(ROLES)
# The main pages by name: page -> {role: status}.
PAGES = {
    "/": {r: 200 for r in ROLES},
    "/account/password": {r: 200 for r in ROLES},
    "/customers/": {"reception": 403, "rep": 200, "manager": 200, "auditor": 200, "admin": 200},
    "/customers/{customer}": {r: 200 for r in ROLES},
    # Rep A's customer: its manager (mgra) or the audit team corrects the channel or visit type.
    "/customers/{customer}/source/channel/edit": {
        "reception": 403,
        "rep": 403,
        "manager": 200,
        "auditor": 200,
        "admin": 403,
    },
    "/reception/": {"reception": 200, "rep": 200, "manager": 200, "auditor": 403, "admin": 403},
    "/reception/register": {"reception": 200, "rep": 200, "manager": 200, "auditor": 403, "admin": 403},
    "/review/": {"reception": 403, "rep": 403, "manager": 200, "auditor": 200, "admin": 403},
    "/admin/": {"reception": 403, "rep": 403, "manager": 403, "auditor": 403, "admin": 200},
    "/admin/users": {"reception": 403, "rep": 403, "manager": 403, "auditor": 403, "admin": 200},
    "/pool/": {"reception": 403, "rep": 200, "manager": 200, "auditor": 403, "admin": 403},
    "/disputes/": {"reception": 403, "rep": 403, "manager": 200, "auditor": 403, "admin": 403},
    "/outbox/": {"reception": 200, "rep": 403, "manager": 200, "auditor": 403, "admin": 403},
    "/corrections/": {"reception": 403, "rep": 403, "manager": 200, "auditor": 200, "admin": 403},
    "/customers/export.xlsx": {"reception": 403, "rep": 403, "manager": 200, "auditor": 403, "admin": 403},
    # The audit team reads the logs; managers see analytics.
    "/logs/": {"reception": 403, "rep": 403, "manager": 403, "auditor": 200, "admin": 200},
    "/analytics/": {"reception": 403, "rep": 403, "manager": 200, "auditor": 403, "admin": 200},
    # The skip report (walk-ins given out of turn) is the sales manager's.
    "/reception/rotation/skips": {"reception": 403, "rep": 403, "manager": 200, "auditor": 403, "admin": 403},
}


# Under /admin but opened by other roles on purpose: endpoint -> the roles let in.
SHARED_UNDER_ADMIN = {
    # The floor plans and price lists the desk hands over: uploaded by the admin, opened at the desk.
    "admin.material_file": {"reception", "rep", "manager", "admin"},
}


def _admin_only_for(route, role) -> bool:
    """Must this role get a 403 here? (/admin is the admin's, except SHARED_UNDER_ADMIN.)"""
    if not route.admin_only:
        return False
    return role not in SHARED_UNDER_ADMIN.get(route.endpoint, {"admin"})


def _unavailable_by_design(route, response) -> bool:
    return route.endpoint in UNAVAILABLE_BY_DESIGN and response.status == 503


def _page_rule(page: str) -> str:
    return page.replace("{customer}", "<int:customer_id>")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_main_pages_by_role(staff, routes, customer_a, page, role):
    assert any(r.rule == _page_rule(page) and "GET" in r.methods for r in routes), f"{page} is not served"
    response = staff.role(role).get(page.format(customer=customer_a["id"]))
    assert response.status == PAGES[page][role], f"{role} GET {page}: {response.status}"
    if response.status == 403:
        assert 'data-testid="error-403"' in response.text


def _targets(routes, customer):
    """(route, url) for every GET route, arguments filled in with real records where known."""
    values = {"customer_id": customer["id"], "followup_id": customer["followup_id"]}
    for route in routes:
        if "GET" in route.methods:
            yield route, route.url(**values)


class Sweep:
    """Each role's answers to every GET route, fetched once and judged by several tests."""

    def __init__(self, server, staff, routes, customer):
        self.server, self.staff, self.routes, self.customer = server, staff, routes, customer
        self.done = {}

    def __call__(self, role):
        if role not in self.done:
            client = self.server.client() if role == ANONYMOUS else self.staff.role(role)
            answers = []
            for route, url in _targets(self.routes, self.customer):
                if route.endpoint.startswith("corrections.public") and role != ANONYMOUS:
                    continue  # public, and rate-limited per address: the anonymous pass covers it
                answers.append((route, url, False, client.get(url)))
                if not route.public and route.endpoint != "static":
                    answers.append((route, url, True, client.get(url, htmx=True)))
            self.done[role] = answers
        return self.done[role]


@pytest.fixture(scope="module")
def sweep(server, staff, routes, customer_a):
    return Sweep(server, staff, routes, customer_a)


def test_the_url_map_was_read(routes):
    rules = {r.rule for r in routes}
    assert {"/login", "/customers/<int:customer_id>", "/reception/register"} <= rules
    assert len(routes) > 40


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_for_each_role(sweep, role):
    problems = []
    for route, url, htmx, response in sweep(role):
        where = f"{'htmx ' if htmx else ''}GET {url} ({route.endpoint})"
        if response.status >= 500 and not _unavailable_by_design(route, response):
            problems.append(f"{where}: {response.status}")
        if _admin_only_for(route, role) and response.status != 403:
            problems.append(f"{where}: {response.status}, expected 403 (admin only)")
        if response.status in (301, 302, 303) and urlparse(response.location).path == "/login":
            problems.append(f"{where}: a logged-in {role} was sent to the login page")
        if "Traceback" in response.text or "werkzeug.debug" in response.text:
            problems.append(f"{where}: shows a traceback")
    assert not problems, "\n".join(problems)


def test_every_get_route_for_anonymous(sweep):
    problems = []
    for route, url, htmx, response in sweep(ANONYMOUS):
        where = f"{'htmx ' if htmx else ''}GET {url} ({route.endpoint})"
        if response.status >= 500 and not _unavailable_by_design(route, response):
            problems.append(f"{where}: {response.status}")
            continue
        if route.public:
            if route.endpoint in ("health.healthz", "account.login", "static") and response.status != 200:
                problems.append(f"{where}: {response.status}, expected 200 (public)")
            continue
        if htmx:
            target = urlparse(response.header("HX-Redirect"))
            if response.status != 401 or target.path != "/login":
                problems.append(
                    f"{where}: {response.status} HX-Redirect={target.geturl()!r}, expected 401 to /login"
                )
            continue
        location = urlparse(response.location or "")
        if response.status != 302 or location.path != "/login" or location.netloc:
            problems.append(f"{where}: {response.status} to {response.location!r}, expected 302 to /login")
        elif parse_qs(location.query).get("next", [""])[0].split("?")[0] != urlparse(url).path:
            problems.append(f"{where}: login link does not come back here: {response.location!r}")
    assert not problems, "\n".join(problems)


def test_healthz_is_plain_ok(server):
    response = server.client().get("/healthz")
    assert (response.status, response.text.strip()) == (200, "ok")


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
def test_security_headers_on_every_html_page(sweep, role):
    problems = []
    pages = 0
    for _route, url, htmx, response in sweep(role):
        where = f"{'htmx ' if htmx else ''}GET {url} [{response.status}]"
        if response.header("X-Content-Type-Options") != "nosniff":
            problems.append(f"{where}: X-Content-Type-Options {response.header('X-Content-Type-Options')!r}")
        if not response.header("Content-Type").startswith("text/html"):
            continue
        pages += 1
        csp = {
            part.strip().split(" ", 1)[0]: part.strip()
            for part in response.header("Content-Security-Policy").split(";")
            if part.strip()
        }
        script = csp.get("script-src") or csp.get("default-src") or ""
        if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script:
            problems.append(f"{where}: script-src {script!r}")
        if "unsafe-inline" in response.header("Content-Security-Policy"):
            problems.append(f"{where}: CSP allows unsafe-inline")
        if csp.get("frame-ancestors") != "frame-ancestors 'none'":
            problems.append(f"{where}: frame-ancestors {csp.get('frame-ancestors')!r}")
        if "no-store" not in response.header("Cache-Control"):
            problems.append(f"{where}: Cache-Control {response.header('Cache-Control')!r}")
        if response.header("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin"):
            problems.append(f"{where}: Referrer-Policy {response.header('Referrer-Policy')!r}")
    assert pages > 0
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_admin_actions_are_refused_to_other_roles(staff, routes, customer_a, role):
    """Every POST under /admin, with a valid CSRF token: 403 for everyone but the admin."""
    client = staff.role(role)
    problems = []
    for route in routes:
        if _admin_only_for(route, role) and "POST" in route.methods:
            url = route.url(customer_id=customer_a["id"], a_id=customer_a["id"], b_id=customer_a["id"])
            response = client.post(url, {})
            if response.status != 403:
                problems.append(f"{role} POST {url}: {response.status}")
    assert not problems, "\n".join(problems)


def test_anonymous_posts_go_to_login(server, routes, customer_a):
    """Every non-public POST with a valid (anonymous) CSRF token: to /login, never done."""
    client = server.client()
    client.refresh_token("/login")
    problems = []
    for route in routes:
        if "POST" not in route.methods or route.public:
            continue
        url = route.url(customer_id=customer_a["id"], followup_id=customer_a["followup_id"])
        response = client.post(url, {})
        if response.status != 302 or urlparse(response.location or "").path != "/login":
            problems.append(f"POST {url}: {response.status} {response.location!r}")
        htmx = client.post(url, {}, htmx=True)
        if htmx.status != 401 or urlparse(htmx.header("HX-Redirect")).path != "/login":
            problems.append(f"htmx POST {url}: {htmx.status} {htmx.header('HX-Redirect')!r}")
    assert not problems, "\n".join(problems)


def test_personal_data_answers_are_never_cached(staff, customer_a):
    """Beyond the GET pages above: the revealed numbers (an htmx POST) and the Excel export."""
    revealed = staff["repa"].post(f"/customers/{customer_a['id']}/reveal", htmx=True)
    export = staff["mgra"].get("/customers/export.xlsx")
    for what, response in (("reveal", revealed), ("export", export)):
        assert response.status == 200, f"{what}: {response.status}"
        assert "no-store" in response.header("Cache-Control"), f"{what}: {response.header('Cache-Control')!r}"
        assert response.header("X-Content-Type-Options") == "nosniff"
