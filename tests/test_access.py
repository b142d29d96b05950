"""Who reaches which page: every role against every route, and masking on the client page."""

import pytest

from villa.models import ROLES, AccessLog

PAGES = {
    "/": set(ROLES),
    "/customers/": {"rep", "manager", "auditor", "admin"},
    # The desk lands on the (masked, read-only) client page after registering.
    "/customers/{customer}": {"reception", "rep", "manager", "auditor", "admin"},
    # Correcting the channel or visit type: the owner's manager (any manager while unowned), the audit team.
    "/customers/{customer}/source/channel/edit": {"manager", "auditor"},
    "/admin/": {"admin"},
    "/admin/users": {"admin"},
    "/account/password": set(ROLES),
    "/reception/rotation/skips": {"manager"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_role_reaches_only_its_pages(login_as, make_customer, role, page):
    session = login_as(role)
    customer = make_customer(name="赵六")
    response = session.get(page.format(customer=customer.id))
    expected = 200 if role in PAGES[page] else 403
    assert response.status_code == expected
    if expected == 403:
        assert 'data-testid="error-403"' in response.get_data(as_text=True)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_is_sent_to_login(client, make_customer, page):
    customer = make_customer()
    response = client.get(page.format(customer=customer.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


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


def test_errors_never_show_a_traceback(app, login_as, monkeypatch):
    import villa.customers

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("villa.web.home.routes.home_summary", broken)
    response = login_as("rep").get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in html and "secret internals" not in html
    assert 'data-testid="error-id"' in html
    assert villa.customers
