"""Who reaches what: every role against every route of the app's url_map, masking on the client page,
and the security headers on every page. The one role matrix of the suite.

POLICY names, for every GET endpoint, the status each role gets; the routes are read from the url_map,
so a new page fails `test_policy_names_every_get_endpoint` until its line is added here. For every
route and role, plain and as htmx: nobody ever gets a 500 or a traceback, /admin is the admin's
alone (except SHARED_UNDER_ADMIN), a logged-in user is never sent to the login page, anonymous users
are (htmx: 401 + HX-Redirect) except on the public endpoints, and every HTML answer carries the CSP,
nosniff, no-store and referrer headers.
"""

from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import Session
from tests.security.factory import PUBLIC_ENDPOINTS, RULE_ARG, UNAVAILABLE_BY_DESIGN, Route
from villa.broker_accounts import add_broker_account
from villa.followups import add_followup
from villa.models import ROLES, AccessLog, now

ANONYMOUS = "anonymous"


def everyone(status=200, broker=403):
    """Every staff role; an agency's broker reaches only its 报备 pages and its account (403 else)."""
    return {**dict.fromkeys(ROLES, status), "broker": broker}


def only(*roles, status=200, others=403):
    return {role: status if role in roles else others for role in ROLES}


def public(logged_in: dict, anonymous: int) -> dict:
    return {**logged_in, ANONYMOUS: anonymous}


DESK, REP, MANAGER, AUDITOR, ADMIN, BROKER = ROLES
SALES = (DESK, REP, MANAGER)
# endpoint -> {role: status of a GET}, the routes' arguments filled in as `targets` does: the customer
# and follow-up of `world`, else a filler (the id of nothing: 404 where the role may look, 403 where
# it may not). The public endpoints also name what an anonymous visitor gets; every other endpoint
# sends the anonymous visitor to /login.
POLICY = {
    # Everyone's pages
    "home.index": {**everyone(broker=302), DESK: 302},  # to the desk; a broker to their 报备 list
    "account.change_password": everyone(broker=200),
    "account.login": public(everyone(302, broker=302), 200),  # a logged-in user is sent home
    "account.switch_language": public(everyone(302, broker=302), 302),
    "account.pledge": everyone(404),  # nothing to accept until the admin writes a pledge
    "notifications.index": everyone(),
    "notifications.bell": everyone(),
    "health.healthz": public(everyone(broker=200), 200),
    "health.ready": public(everyone(503, broker=503), 503),  # a fresh instance: the nightly upkeep never ran
    "health.metrics": public(everyone(404, broker=404), 404),  # no VILLA_METRICS_TOKEN: not there
    "static": public(everyone(broker=200), 200),
    "corrections.public_form": public(everyone(404), 404),  # not a valid link
    # The client pages: the desk lands on the (read-only) client page after registering
    "clients.index": only(REP, MANAGER, AUDITOR, ADMIN),
    "clients.detail": everyone(),
    "clients.field_view": only(REP, MANAGER, status=302),  # to the client page; htmx: HTMX below
    "clients.field_edit": only(REP, MANAGER),
    "clients.section_view": only(REP, MANAGER, status=302),  # to the client page; htmx: HTMX below
    "clients.section_edit": only(REP, MANAGER),
    "clients.new_followup": only(REP, MANAGER),
    "clients.correct_followup": only(REP, MANAGER),
    "clients.stage_form": only(REP, MANAGER),
    "clients.reassign_form": only(MANAGER),
    "clients.erasure_form": only(ADMIN),
    "clients.export_link": only(MANAGER),
    "clients.export_xlsx": only(MANAGER),
    # Correcting the channel or visit type: the owner's manager (any manager while unowned), the audit team
    "clients.source_edit": only(MANAGER, AUDITOR),
    "clients.source_view": only(MANAGER, AUDITOR, status=302),  # to the client page; htmx: HTMX below
    # The desk
    "reception.desk": only(*SALES),
    "reception.register_customer": only(*SALES),
    "reception.check": only(*SALES),
    "reception.rotation": only(*SALES, status=302),  # to the desk; htmx: HTMX below
    "reception.rotation_out_of_turn": only(DESK, MANAGER),
    "reception.registered_today_list": only(DESK),  # 今日登记, the count on the desk opens it
    "outbox.index": only(DESK, MANAGER),
    # Sales
    "pool.index": only(REP, MANAGER),
    "notifications.preferences": only(REP, MANAGER),
    "analytics.my_card": only(REP, MANAGER, ADMIN, status=302),  # to their own card
    # Managers and the audit team
    "review.queue": only(MANAGER, AUDITOR),
    "corrections.index": only(MANAGER, AUDITOR),
    "disputes.index": only(MANAGER),
    "reception.rotation_skips": only(MANAGER),  # walk-ins given out of turn
    # The 认购 and 签约 waiting for the manager's confirmation
    "deals.waiting": only(MANAGER),
    "analytics.dashboard": only(MANAGER, ADMIN),
    "analytics.reps": only(MANAGER, ADMIN),
    "analytics.card": only(MANAGER, ADMIN, status=404),
    "analytics.export": only(MANAGER, ADMIN, status=404),
    # Agencies and brokers (records: admin and managers); the report and 佣金确认 with the audit team
    "agencies.index": only(MANAGER, ADMIN),
    "agencies.edit_agency": only(MANAGER, ADMIN),  # the world's broker's agency and broker (id 1)
    "agencies.brokers": only(MANAGER, ADMIN),
    "agencies.edit_broker": only(MANAGER, ADMIN),
    "agencies.report": only(MANAGER, AUDITOR, ADMIN),
    "agencies.report_export": only(MANAGER, AUDITOR, ADMIN),
    "agencies.commission": only(MANAGER, AUDITOR, ADMIN),
    "agencies.commission_export": only(MANAGER, AUDITOR, ADMIN),
    "logs.index": only(AUDITOR, ADMIN),
    "incidents.index": only(AUDITOR, ADMIN),
    "incidents.open_incident": only(AUDITOR, ADMIN),
    "incidents.detail": only(AUDITOR, ADMIN, status=404),
    "incidents.export": only(AUDITOR, ADMIN, status=404),
    "account.pledge_acceptances": only(AUDITOR, ADMIN),
    # The admin's (/admin: see SHARED_UNDER_ADMIN)
    "admin.index": only(ADMIN),
    "admin.users": only(ADMIN),
    "admin.edit_user": only(ADMIN),
    "admin.settings": only(ADMIN),
    "admin.settings_section": only(ADMIN),
    "admin.channels": only(ADMIN),
    "admin.edit_channel": only(ADMIN),
    "admin.backups": only(ADMIN),
    "admin.keys": only(ADMIN),
    "admin.confirm_data_rotation": only(ADMIN),
    "admin.duplicates": only(ADMIN),
    "admin.merges": only(ADMIN),
    "admin.merge_pair": only(ADMIN, status=404),
    "admin.import_register": only(ADMIN),
    "admin.import_report": only(ADMIN, status=404),
    "admin.import_report_file": only(ADMIN, status=404),
    "admin.materials": only(ADMIN),
    "admin.material_file": only(DESK, REP, MANAGER, ADMIN, status=404),
    "admin.pledge": only(ADMIN),
    "admin.retention": only(ADMIN),
    "notifications.queue": only(ADMIN),
    # 报备: the broker's own list and form; channel staff (the managers) enter one for a broker
    "broker.reports": only(BROKER),
    "broker.on_behalf": only(MANAGER),
}
# Where an htmx GET answers otherwise than the plain one: endpoint -> {role: status}.
HTMX = {
    "clients.field_view": only(REP, MANAGER),  # the field's row, for the page to swap in
    "clients.section_view": only(REP, MANAGER),  # the section, for the page to swap in
    "reception.rotation": only(*SALES),  # the rotation panel
    "clients.source_view": only(MANAGER, AUDITOR),  # the row, for the page to swap in
}

# Under /admin but opened by other roles on purpose: endpoint -> the roles let in.
SHARED_UNDER_ADMIN = {
    # The floor plans and price lists the desk hands over: uploaded by the admin, opened at the desk.
    "admin.material_file": {"reception", "rep", "manager", "admin"},
}


def app_routes(app) -> list[Route]:
    """The app's URL rules, as tests/security reads them from a served app (factory.Route)."""
    routes = []
    for rule in app.url_map.iter_rules():
        methods = tuple(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        routes.append(Route(rule.rule, rule.endpoint, methods, tuple(RULE_ARG.findall(rule.rule))))
    return sorted(routes, key=lambda route: (route.rule, route.endpoint))


def _admin_only_for(route, role) -> bool:
    """Must this role get a 403 here? (/admin is the admin's, except SHARED_UNDER_ADMIN.)"""
    if not route.admin_only:
        return False
    return role not in SHARED_UNDER_ADMIN.get(route.endpoint, {"admin"})


def text(response) -> str:
    return response.get_data().decode("utf-8", errors="replace")  # an .xlsx or an image too


def _unavailable_by_design(route, response) -> bool:
    return route.endpoint in UNAVAILABLE_BY_DESIGN and response.status_code == 503


def make_broker_user(agency="链家", **fields):
    """A broker's login with its Broker record (as `villa user create --role broker` makes it)."""
    from tests.conftest import create_user

    user = create_user("broker", **fields)
    add_broker_account(user, agency)
    return user


@pytest.fixture
def world(make_user, make_customer):
    """One user of each role (the rep's manager is the manager); the rep's customer with a phone, an ID
    number and an address, and one follow-up by the rep."""
    manager = make_user("manager")
    users = {
        "reception": make_user("reception"),
        "rep": make_user("rep", manager=manager),
        "manager": manager,
        "auditor": make_user("auditor"),
        "admin": make_user("admin"),
        "broker": make_broker_user(),
    }
    customer = make_customer(
        owner=users["rep"],
        registered_by=users["rep"],
        name="张三丰",
        id_number="11010519491231002X",
        address="杭州市西湖区龙井路18号",
        sensitive_consent_at=now(),
    )
    followup = add_followup(customer, users["rep"], "call", "电话沟通，约周六看房")
    return {"users": users, "customer": customer, "followup": followup}


def targets(routes, world, method="GET"):
    """(route, url) for every route of that method, arguments filled in with real records where known."""
    values = {"customer_id": world["customer"].id, "followup_id": world["followup"].id}
    for route in routes:
        if method in route.methods:
            yield route, route.url(**values)


def sweep(app, session, routes, world, role):
    """Every GET route, plain and (where it is not public) as htmx: [(route, url, htmx, response)]."""
    answers = []
    for route, url in targets(routes, world):
        answers.append((route, url, False, session.get(url)))
        if not route.public and route.endpoint != "static":
            answers.append((route, url, True, session.htmx_get(url)))
    return answers


def header_problems(answers) -> list[str]:
    problems, pages = [], 0
    for _route, url, htmx, response in answers:
        where = f"{'htmx ' if htmx else ''}GET {url} [{response.status_code}]"
        headers = response.headers
        if headers.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"{where}: X-Content-Type-Options {headers.get('X-Content-Type-Options')!r}")
        if not headers.get("Content-Type", "").startswith("text/html"):
            continue
        pages += 1
        policy = headers.get("Content-Security-Policy", "")
        csp = {part.strip().split(" ", 1)[0]: part.strip() for part in policy.split(";") if part.strip()}
        script = csp.get("script-src") or csp.get("default-src") or ""
        if "'self'" not in script or "unsafe-inline" in script or "unsafe-eval" in script:
            problems.append(f"{where}: script-src {script!r}")
        if "unsafe-inline" in policy:
            problems.append(f"{where}: CSP allows unsafe-inline")
        if csp.get("frame-ancestors") != "frame-ancestors 'none'":
            problems.append(f"{where}: frame-ancestors {csp.get('frame-ancestors')!r}")
        if "no-store" not in headers.get("Cache-Control", ""):
            problems.append(f"{where}: Cache-Control {headers.get('Cache-Control')!r}")
        if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin"):
            problems.append(f"{where}: Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if not pages:
        problems.append("no HTML page was answered")
    return problems


def test_the_url_map_was_read(app):
    rules = {r.rule for r in app_routes(app)}
    assert {"/login", "/customers/<int:customer_id>", "/reception/register"} <= rules
    assert len(rules) > 40


def test_policy_names_every_get_endpoint(app):
    served = {r.endpoint for r in app_routes(app) if "GET" in r.methods}
    missing, gone = sorted(served - set(POLICY)), sorted(set(POLICY) - served)
    assert not missing, f"add these endpoints to POLICY: {missing}"
    assert not gone, f"POLICY names endpoints no longer served: {gone}"
    for endpoint, statuses in POLICY.items():
        assert set(ROLES) <= set(statuses), f"{endpoint}: a status for every role"
        if endpoint in PUBLIC_ENDPOINTS:
            assert ANONYMOUS in statuses, f"{endpoint} is public: say what an anonymous visitor gets"


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_for_each_role(app, login, world, role):
    routes = app_routes(app)
    answers = sweep(app, login(world["users"][role]), routes, world, role)
    problems = []
    for route, url, htmx, response in answers:
        status, body = response.status_code, text(response)
        where = f"{'htmx ' if htmx else ''}GET {url} ({route.endpoint})"
        expected = (HTMX if htmx and route.endpoint in HTMX else POLICY).get(route.endpoint, {}).get(role)
        if status != expected:
            problems.append(f"{where}: {status}, POLICY says {expected}")
        if status >= 500 and not _unavailable_by_design(route, response):
            problems.append(f"{where}: {status}")
        if _admin_only_for(route, role) and status != 403:
            problems.append(f"{where}: {status}, expected 403 (admin only)")
        if status in (301, 302, 303) and urlparse(response.location).path == "/login":
            problems.append(f"{where}: a logged-in {role} was sent to the login page")
        if "Traceback" in body or "werkzeug.debug" in body:
            problems.append(f"{where}: shows a traceback")
        error_page = 'data-testid="error-403"' in body
        if status == 403 and not htmx and response.mimetype == "text/html" and not error_page:
            problems.append(f"{where}: a 403 without the error page")
    problems += header_problems(answers)
    assert not problems, "\n".join(problems)


def test_every_get_route_for_anonymous(app, client, world):
    answers = sweep(app, Session(client), app_routes(app), world, ANONYMOUS)
    problems = []
    for route, url, htmx, response in answers:
        status = response.status_code
        where = f"{'htmx ' if htmx else ''}GET {url} ({route.endpoint})"
        if status >= 500 and not _unavailable_by_design(route, response):
            problems.append(f"{where}: {status}")
            continue
        if "Traceback" in text(response):
            problems.append(f"{where}: shows a traceback")
        if route.public:
            expected = POLICY.get(route.endpoint, {}).get(ANONYMOUS)
            if status != expected:
                problems.append(f"{where}: {status}, POLICY says {expected} (public)")
            continue
        if htmx:
            target = urlparse(response.headers.get("HX-Redirect", ""))
            if status != 401 or target.path != "/login":
                problems.append(f"{where}: {status} HX-Redirect={target.geturl()!r}, expected 401 to /login")
            continue
        location = urlparse(response.location or "")
        if status != 302 or location.path != "/login" or location.netloc:
            problems.append(f"{where}: {status} to {response.location!r}, expected 302 to /login")
        elif parse_qs(location.query).get("next", [""])[0].split("?")[0] != urlparse(url).path:
            problems.append(f"{where}: login link does not come back here: {response.location!r}")
    problems += header_problems(answers)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_admin_actions_are_refused_to_other_roles(app, login, world, role):
    """Every POST under /admin, with a valid CSRF token: 403 for everyone but the admin."""
    session = login(world["users"][role])
    customer_id = world["customer"].id
    problems = []
    for route in app_routes(app):
        if _admin_only_for(route, role) and "POST" in route.methods:
            url = route.url(customer_id=customer_id, a_id=customer_id, b_id=customer_id)
            response = session.post(url, {})
            if response.status_code != 403:
                problems.append(f"{role} POST {url}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_anonymous_posts_go_to_login(app, client, world):
    """Every non-public POST with a valid (anonymous) CSRF token: to /login, never done."""
    session = Session(client)
    session.refresh_token("/login")
    problems = []
    for route, url in targets(app_routes(app), world, method="POST"):
        if route.public:
            continue
        response = session.post(url, {})
        if response.status_code != 302 or urlparse(response.location or "").path != "/login":
            problems.append(f"POST {url}: {response.status_code} {response.location!r}")
        htmx = session.post(url, {}, htmx=True)
        if htmx.status_code != 401 or urlparse(htmx.headers.get("HX-Redirect", "")).path != "/login":
            problems.append(f"htmx POST {url}: {htmx.status_code} {htmx.headers.get('HX-Redirect')!r}")
    assert not problems, "\n".join(problems)


def test_healthz_is_plain_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True).strip()) == (200, "ok")


def test_personal_data_answers_are_never_cached(login, world):
    """Beyond the GET pages above: the revealed numbers (an htmx POST) and the Excel export."""
    customer, users = world["customer"], world["users"]
    revealed = login(users["rep"]).post(f"/customers/{customer.id}/reveal", htmx=True)
    export = login(users["manager"]).get("/customers/export.xlsx")
    for what, response in (("reveal", revealed), ("export", export)):
        assert response.status_code == 200, f"{what}: {response.status_code}"
        cache = response.headers["Cache-Control"]
        assert "no-store" in cache, f"{what}: {cache!r}"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_customer_is_404(login_as):
    assert login_as("rep").get("/customers/999999").status_code == 404


def test_other_reps_customer_is_masked_and_cannot_be_revealed(login_as, make_user, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, name="张三丰", phone="13912345678", id_number="11010519491231002X")
    other = login_as("rep")
    html = other.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "139****5678" in html
    assert "13912345678" not in html and "139 1234 5678" not in html
    assert "11010519491231002X" not in html
    assert "张**" in html and "张三丰" not in html
    assert 'data-testid="reveal"' not in html
    assert other.post(f"/customers/{customer.id}/reveal", htmx=True).status_code == 403
    assert AccessLog.select().count() == 0


def test_owner_reveals_and_the_reveal_is_logged(make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, phone="13912345678", id_number="11010519491231002X")
    session = login(owner)
    page = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "139 1234 5678" not in page, "full numbers only after an explicit show"
    assert 'data-testid="reveal"' in page
    response = session.post(f"/customers/{customer.id}/reveal", htmx=True)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment
    assert "139 1234 5678" in fragment and "11010519491231002X" in fragment
    entry = AccessLog.get()
    assert (entry.actor_id, entry.customer_id, entry.action, entry.fields) == (
        owner.id,
        customer.id,
        "reveal",
        "phone,id_number",
    )


def test_list_masks_every_phone(login_as, make_user, make_customer):
    owner = make_user("rep")
    make_customer(owner=owner, name="李四", phone="13912345678")
    html = login_as("manager").get("/customers/").get_data(as_text=True)
    assert "139****5678" in html
    assert "13912345678" not in html


def test_search_by_phone_in_any_format_and_by_name(login_as, make_user, make_customer):
    owner = make_user("rep")
    make_customer(owner=owner, name="李四", phone="13912345678")
    make_customer(owner=owner, name="王五", phone="13700001111")
    session = login_as("manager")  # the owner has no manager: every manager sees them in full
    for query in ("+86 139-1234-5678", "１３９１２３４５６７８", "0086 13912345678"):
        html = session.htmx_get("/customers/", query_string={"q": query}).get_data(as_text=True)
        assert "李四" in html and "王五" not in html
        assert "<html" not in html
    by_name = session.get("/customers/", query_string={"q": "王"}).get_data(as_text=True)
    assert "王五" in by_name and "李四" not in by_name
    for wildcard in ("%", "_", "'", '"'):
        html = session.get("/customers/", query_string={"q": wildcard}).get_data(as_text=True)
        assert "王五" not in html and "李四" not in html


def test_security_headers_on_pages(login_as):
    response = login_as("rep").get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_errors_never_show_a_traceback(login_as, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("villa.web.home.routes.home_summary", broken)
    response = login_as("rep").get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in html and "secret internals" not in html
    assert 'data-testid="error-id"' in html
