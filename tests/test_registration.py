"""Registering at the desk: validation, one customer per phone, the conflict and its next steps."""

import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from werkzeug.serving import make_server

from villa.db import is_sqlite
from villa.models import AuditLog, Customer, Dispute, RotationEntry, Visit
from villa.rotation import check_in, queue

from .conftest import PASSWORD, csrf_from
from .helpers import registration_form as form
from .helpers import sqlite_file_bytes


def test_rep_registers_and_owns_the_customer(login_as):
    session = login_as("rep")
    response = session.post("/reception/register", form())
    assert response.status_code == 303
    customer = Customer.get()
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert customer.owner_id == session.user.id
    assert customer.phone == "+8613912345678"
    assert customer.review_status == "pending_first"
    assert customer.consent_at is not None and customer.notice_version
    assert customer.sensitive_consent_at is None and customer.id_number is None
    days = (customer.protected_until - customer.registered_at).days
    assert days == 15
    visit = Visit.get()
    assert (visit.customer_id, visit.is_first, visit.rep_id) == (customer.id, True, session.user.id)
    assert AuditLog.select().where(AuditLog.action == "registered").count() == 1


def test_registered_phone_and_id_are_not_in_the_database_file(login_as):
    if not is_sqlite():
        pytest.skip("file-level check applies to the SQLite database")
    session = login_as("rep")
    values = form(id_number="11010519491231002x", sensitive_consent="y", address="上海市浦东新区锦绣路1000弄")
    assert session.post("/reception/register", values).status_code == 303
    raw = sqlite_file_bytes()
    for secret in ("13912345678", "11010519491231002", "锦绣路1000弄"):
        assert secret.encode() not in raw
    assert "王建国".encode() in raw


def test_call_gets_seven_days_protection(login_as):
    session = login_as("rep")
    assert session.post("/reception/register", form(visit_type="call")).status_code == 303
    customer = Customer.get()
    assert (customer.protected_until - customer.registered_at).days == 7
    assert customer.stage == "registered"


def test_id_number_with_sensitive_consent_is_stored_normalised(login_as):
    session = login_as("rep")
    response = session.post(
        "/reception/register", form(id_type="resident", id_number="11010519491231002x", sensitive_consent="y")
    )
    assert response.status_code == 303
    customer = Customer.get()
    assert customer.id_number == "11010519491231002X"
    assert customer.sensitive_consent_at is not None


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"phone": "12345"}, "phone", "电话"),
        ({"phone": ""}, "phone", "电话"),
        ({"id_number": "110105194912310021", "sensitive_consent": "y"}, "id_number", "校验"),
        ({"id_number": "11010519491231002X"}, "sensitive_consent", "同意"),
        ({"consent": None}, "consent", "隐私"),
        ({"channel": "no_such_channel"}, "channel", "渠道"),
        ({"name": "王" * 41}, "name", "40"),
        ({"name": "<script>alert(1)</script>"}, "name", "符号"),
        ({"name": ""}, "name", "姓名"),
        ({"notes": "长" * 1001}, "notes", "1000"),
        ({"channel": "referral"}, "referrer_name", "推荐"),
        ({"channel": "broker"}, "broker_agency", "中介"),
        ({"payment_method": "全款"}, "sensitive_consent", "同意"),
    ],
)
def test_bad_input_is_422_with_message_at_the_field_and_nothing_saved(login_as, changes, field, message):
    session = login_as("rep")
    response = session.post("/reception/register", form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html
    error = html.split(f'data-testid="error-{field}">', 1)[1].split("</small>", 1)[0]
    assert message in error
    assert Customer.select().count() == 0
    assert Visit.select().count() == 0
    # What was typed comes back.
    if "notes" not in changes:
        assert "想看湖景独栋" in html
    if "name" not in changes:
        assert 'value="王建国"' in html


def test_html_in_a_name_is_escaped_wherever_it_appears(login_as, make_user, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, name="<b>x</b>", phone="13912345678")
    session = login_as("manager")
    pages = [
        session.get("/customers/"),
        session.get(f"/customers/{customer.id}"),
        session.htmx_get("/reception/check?phone=13912345678"),
        session.post("/reception/register", form()),
        session.get("/reception/"),
    ]
    for response in pages:
        assert "<b>x</b>" not in response.get_data(as_text=True)


def test_duplicate_phone_in_another_format_is_409_with_next_steps(login_as, make_user, make_customer):
    owner = make_user("rep", display_name="李娜")
    make_customer(owner=owner, name="张三", phone="13912345678")
    other = login_as("rep")
    response = other.post("/reception/register", form(phone="+86 139-1234-5678"))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert 'data-testid="dup-conflict"' in html
    assert "李娜" in html and "张*" in html
    assert 'data-testid="log-return-visit"' in html
    assert 'data-testid="open-dispute"' in html
    assert "13912345678" not in html
    assert Customer.select().count() == 1


def test_duplicate_id_number_is_409(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), id_number="11010519491231002X")
    session = login_as("reception")
    rep = make_user("rep")
    response = session.post(
        "/reception/register",
        form(phone="13700001111", id_number="11010519491231002x", sensitive_consent="y", rep=str(rep.id)),
    )
    assert response.status_code == 409


def test_alternate_phone_match_is_a_duplicate(login_as, make_user, make_customer):
    from villa.customers import set_alt_phone

    customer = make_customer(owner=make_user("rep"), phone="13700001111")
    set_alt_phone(customer, "13912345678")
    customer.save()
    response = login_as("rep").post("/reception/register", form())
    assert response.status_code == 409


def test_reception_registers_for_the_rep_whose_turn_it_is(login_as, make_user):
    first, second = make_user("rep", username="first"), make_user("rep", username="second")
    desk = login_as("reception")
    check_in(first, desk.user)
    check_in(second, desk.user)
    page = desk.get("/reception/register").get_data(as_text=True)
    assert f'<option selected value="{first.id}">' in page
    response = desk.post("/reception/register", form(rep=str(first.id)))
    assert response.status_code == 303
    assert Customer.get().owner_id == first.id
    assert [e.rep.username for e in queue()] == ["second", "first"]
    assert Visit.get().via_rotation is True


def test_reception_must_choose_a_rep(login_as):
    response = login_as("reception").post("/reception/register", form())
    assert response.status_code == 422
    assert 'data-testid="error-rep"' in response.get_data(as_text=True)
    assert Customer.select().count() == 0


@pytest.mark.parametrize("who", ["retired", "manager"])
def test_reception_may_not_give_the_customer_to_anyone_but_an_active_rep(who, login_as, make_user):
    """The form lists the active reps by name; what it posts back is checked against the whole row."""
    someone = make_user("rep", active=False) if who == "retired" else make_user("manager")
    desk = login_as("reception")
    assert f'value="{someone.id}"' not in desk.get("/reception/register").get_data(as_text=True)
    response = desk.post("/reception/register", form(rep=str(someone.id)))
    assert response.status_code == 422
    assert 'data-testid="error-rep"' in response.get_data(as_text=True)
    assert Customer.select().count() == 0


def test_return_visit_goes_to_the_owner_without_a_rotation_turn(login_as, make_user, make_customer):
    owner, on_duty = make_user("rep", username="owner"), make_user("rep", username="duty")
    customer = make_customer(owner=owner, phone="13912345678")
    desk = login_as("reception")
    check_in(on_duty, desk.user)
    conflict = desk.post("/reception/register", form(rep=str(on_duty.id)))
    assert conflict.status_code == 409
    response = desk.post(
        f"/reception/customers/{customer.id}/return-visit", {"kind": "visit", "note": "带家人来"}
    )
    assert response.status_code == 303
    visit = Visit.get()
    assert (visit.rep_id, visit.is_first, visit.note) == (owner.id, False, "带家人来")
    entry = RotationEntry.get()
    assert entry.assigned_count == 0


def test_other_rep_opens_a_dispute(login_as, make_user, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, phone="13912345678")
    claimant = login_as("rep")
    missing = claimant.post(f"/reception/customers/{customer.id}/dispute", {"reason": ""})
    assert missing.status_code == 422
    assert Dispute.select().count() == 0
    response = claimant.post(f"/reception/customers/{customer.id}/dispute", {"reason": "上周在车展先接待"})
    assert response.status_code == 303
    dispute = Dispute.get()
    assert (dispute.claimant_id, dispute.owner_id, dispute.status) == (claimant.user.id, owner.id, "open")


def test_owner_and_desk_cannot_open_disputes(login_as, make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner)
    assert (
        login(owner).post(f"/reception/customers/{customer.id}/dispute", {"reason": "x"}).status_code == 403
    )
    desk = login_as("reception")
    assert desk.post(f"/reception/customers/{customer.id}/dispute", {"reason": "x"}).status_code == 403


def test_rep_takes_a_customer_from_the_public_pool(login_as, make_customer):
    customer = make_customer(owner=None, in_public_pool=True, phone="13912345678")
    session = login_as("rep")
    conflict = session.post("/reception/register", form())
    assert conflict.status_code == 409
    assert 'data-testid="take-from-pool"' in conflict.get_data(as_text=True)
    response = session.post(f"/reception/customers/{customer.id}/take", {"kind": "visit"})
    assert response.status_code == 303
    taken = Customer.get_by_id(customer.id)
    assert (taken.owner_id, taken.in_public_pool) == (session.user.id, False)
    assert taken.protected_until is not None


@pytest.mark.parametrize(
    "query",
    [
        "phone=139%201234%205678",
        "phone=%2B86-13912345678",
        "phone=%EF%BC%91%EF%BC%93%EF%BC%99%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98",
    ],
)
def test_check_finds_the_phone_in_any_format(login_as, make_user, make_customer, query):
    owner = make_user("rep", display_name="李娜")
    make_customer(owner=owner, name="张三丰", phone="13912345678")
    response = login_as("reception").htmx_get(f"/reception/check?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="dup-warning"' in html
    assert "张**" in html and "李娜" in html
    assert "张三丰" not in html and "5678" not in html
    assert "<html" not in html


def test_check_by_id_number_with_lower_case_x(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), id_number="11010519491231002X")
    html = login_as("rep").htmx_get("/reception/check?id_number=110105194912310 02x").get_data(as_text=True)
    assert 'data-testid="dup-warning"' in html


def test_check_is_empty_for_unknown_or_partial_input(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), phone="13912345678")
    session = login_as("rep")
    for query in ("phone=1391234", "phone=13700001111", "id_number=1101", "phone="):
        assert session.htmx_get(f"/reception/check?{query}").get_data(as_text=True).strip() == ""


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditor_and_admin_do_not_register(login_as, role):
    session = login_as(role)
    assert session.get("/reception/register").status_code == 403
    assert session.post("/reception/register", form()).status_code == 403
    assert session.get("/reception/check?phone=13912345678").status_code == 403


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser_session(base, username):
    """A logged-in cookie jar and a fresh CSRF token, as one tablet would hold them."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), _NoRedirect())
    token = csrf_from(opener.open(f"{base}/login").read().decode())
    body = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
    try:
        opener.open(f"{base}/login", body.encode())
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 303
    return opener, csrf_from(opener.open(f"{base}/reception/register").read().decode())


def _post_status(opener, url, values):
    try:
        return opener.open(url, urllib.parse.urlencode(values).encode()).status
    except urllib.error.HTTPError as answer:
        return answer.code


def test_twenty_concurrent_registrations_make_one_customer(app, make_user):
    """Twenty tablets press "register" on the same phone at once: one customer, nineteen conflicts."""
    reps = [make_user("rep", username=f"racer{n}") for n in range(20)]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        sessions = [_browser_session(base, rep.username) for rep in reps]
        start = threading.Barrier(len(sessions))
        statuses = []

        def race(opener, token):
            start.wait()
            statuses.append(
                _post_status(opener, f"{base}/reception/register", {**form(), "csrf_token": token})
            )

        threads = [threading.Thread(target=race, args=session) for session in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.shutdown()
    assert sorted(statuses) == [303] + [409] * 19
    assert Customer.select().count() == 1
    assert Visit.select().count() == 1


def test_desk_lists_todays_visits_with_receiver_and_rep(login_as, make_user, make_customer):
    desk = make_user("reception", username="desk2", display_name="前台小周")
    rep = make_user("rep", username="lina2", display_name="李娜")
    first = make_customer(owner=rep, registered_by=desk)
    Visit.create(customer=first, received_by=desk, rep=rep, is_first=True)
    pooled = make_customer(owner=None, registered_by=desk, in_public_pool=True)
    Visit.create(customer=pooled, received_by=desk, rep=None, is_first=False)
    page = login_as("reception").get("/reception/").get_data(as_text=True)
    visits = page.split('data-testid="todays-visits"', 1)[1].split("</table>", 1)[0]
    assert visits.count("前台小周") == 2
    assert "李娜" in visits
