"""Customers correct their own data through a signed, single-use link; nothing applies before review."""

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.conftest import Session, create_customer, csrf_from, raw_column
from villa import corrections
from villa.crypto import blind_index
from villa.models import AuditLog, ChangeRequest, CorrectionLink, Customer, now

PHONE = "13800138000"
NEW_PHONE = "13912345678"


@pytest.fixture
def customer(team):
    return create_customer(
        owner=team[1],
        name="张三丰",
        phone=PHONE,
        budget="800-1000万",
        unit_type="独栋",
        review_status="approved",
    )


def new_link(app, customer, actor):
    with app.app_context():
        return corrections.create_link(customer, actor)


def visitor(app, ip="203.0.113.7"):
    """An anonymous phone that opened the link, with its own cookies and address."""
    session = Session(app.test_client())
    session.ip = ip
    return session


def open_page(session, token):
    response = session.get(f"/c/{token}", environ_base={"REMOTE_ADDR": session.ip})
    if response.status_code == 200:
        session.token = csrf_from(response.get_data(as_text=True))
    return response


def send(session, token, **fields):
    if session.token is None:
        open_page(session, token)
    return session.post(f"/c/{token}", fields, environ_base={"REMOTE_ADDR": session.ip})


def submitted(app, customer, actor, **fields) -> ChangeRequest:
    _, token = new_link(app, customer, actor)
    assert send(visitor(app), token, **fields).status_code == 200
    return ChangeRequest.select().order_by(ChangeRequest.id.desc()).get()


# The link, from the customer's side


def test_a_link_works_once_and_shows_only_masked_data(app, team, customer):
    _, token = new_link(app, customer, team[1])
    phone = visitor(app)
    page = open_page(phone, token)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "张**" in html and "138****8000" in html and "独栋" in html
    assert "张三丰" not in html and PHONE not in html and "138 0013 8000" not in html
    assert '<meta name="referrer" content="no-referrer">' in html
    assert page.headers["Cache-Control"] == "no-store"

    response = send(phone, token, name="张三", phone="139 1234 5678", budget="1000-1500万", unit_type="独栋")
    assert response.status_code == 200
    assert 'data-testid="correction-thanks"' in response.get_data(as_text=True)
    change = ChangeRequest.get()
    assert change.status == "pending"
    assert corrections.requested(change) == {
        "name": "张三",
        "phone": "+8613912345678",
        "budget": "1000-1500万",
    }
    stored = raw_column(ChangeRequest.changes, change.id)
    assert NEW_PHONE.encode() not in stored and "张三".encode() not in stored
    assert CorrectionLink.get().used_at is not None
    unchanged = Customer.get_by_id(customer.id)
    assert (unchanged.name, unchanged.phone, unchanged.budget) == ("张三丰", "+8613800138000", "800-1000万")

    again = visitor(app)
    refused = open_page(again, token)
    assert refused.status_code == 410
    assert "张" not in refused.get_data(as_text=True) and "8000" not in refused.get_data(as_text=True)
    again.refresh_token("/login")
    assert send(again, token, name="李四").status_code == 410
    assert send(phone, token, name="李四").status_code == 410
    assert ChangeRequest.select().count() == 1


def test_only_what_the_customer_changed_is_recorded_with_the_note(app, team, customer):
    _, token = new_link(app, customer, team[1])
    phone = visitor(app)
    unchanged = send(phone, token, name="张三丰", phone="138-0013-8000", unit_type="独栋")
    assert unchanged.status_code == 422
    assert 'data-testid="error-form"' in unchanged.get_data(as_text=True)
    assert CorrectionLink.get().used_at is None
    assert (
        send(phone, token, phone="+86 138 0013 8000", purpose="investment", note="周末方便联系").status_code
        == 200
    )
    change = ChangeRequest.get()
    assert corrections.requested(change) == {"purpose": "investment"}
    assert corrections.customer_note(change) == "周末方便联系"


def test_invalid_input_is_422_keeps_the_values_and_leaves_the_link_usable(app, team, customer):
    _, token = new_link(app, customer, team[1])
    phone = visitor(app)
    response = send(phone, token, name="张<b>", phone="12345", budget="9亿")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("name", "phone", "budget"):
        assert f'data-testid="error-{name}"' in html
    assert 'value="12345"' in html and "张&lt;b&gt;" in html
    assert ChangeRequest.select().count() == 0 and CorrectionLink.get().used_at is None
    assert send(phone, token, phone=NEW_PHONE).status_code == 200


def _flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


@pytest.mark.parametrize("where", [5, 40, -3])
def test_a_tampered_token_is_refused(app, team, customer, where):
    _, token = new_link(app, customer, team[1])
    tampered = _flip(token, where % len(token))
    phone = visitor(app)
    assert open_page(phone, tampered).status_code in (404, 410)
    phone.refresh_token("/login")
    assert send(phone, tampered, name="李四").status_code in (404, 410)
    assert open_page(visitor(app), "not-a-token").status_code == 404
    assert ChangeRequest.select().count() == 0


def test_a_token_signed_with_another_secret_or_for_another_customer_is_refused(app, team, customer):
    _, token = new_link(app, customer, team[1])
    payload = URLSafeTimedSerializer(app.secret_key, salt=corrections.SALT).loads(token)
    forged = URLSafeTimedSerializer("another-secret", salt=corrections.SALT).dumps(payload)
    assert open_page(visitor(app), forged).status_code == 404
    other = create_customer(owner=team[1])
    moved = URLSafeTimedSerializer(app.secret_key, salt=corrections.SALT).dumps({**payload, "c": other.id})
    assert open_page(visitor(app), moved).status_code == 404
    assert open_page(visitor(app), token).status_code == 200


def test_an_expired_link_is_gone(app, team, customer):
    link, token = new_link(app, customer, team[1])
    CorrectionLink.update(expires_at=now() - timedelta(minutes=1)).where(
        CorrectionLink.id == link.id
    ).execute()
    assert open_page(visitor(app), token).status_code == 410


def test_the_signature_expires_even_if_the_row_says_otherwise(app, team, customer, monkeypatch):
    link, token = new_link(app, customer, team[1])
    CorrectionLink.update(expires_at=now() + timedelta(days=30)).where(CorrectionLink.id == link.id).execute()
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + 49 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert open_page(visitor(app), token).status_code == 410


def test_a_newer_link_revokes_the_older_and_no_token_is_logged(app, team, customer):
    _, first = new_link(app, customer, team[1])
    _, second = new_link(app, customer, team[0])
    assert open_page(visitor(app), first).status_code == 410
    assert open_page(visitor(app), second).status_code == 200
    entries = list(AuditLog.select().where(AuditLog.action == "correction_link_created"))
    assert len(entries) == 2
    for entry in entries:
        for token in (first, second):
            assert token not in entry.changes and token not in entry.target
    payload = URLSafeTimedSerializer(app.secret_key, salt=corrections.SALT).loads(second)
    assert not CorrectionLink.select().where(CorrectionLink.nonce == payload["n"]).exists()


def test_an_anonymised_customer_link_is_gone(app, team, customer):
    _, token = new_link(app, customer, team[1])
    Customer.update(anonymised_at=now()).where(Customer.id == customer.id).execute()
    assert open_page(visitor(app), token).status_code == 410


def test_public_pages_are_rate_limited_per_address(app, team, customer):
    _, token = new_link(app, customer, team[1])
    prober = visitor(app, ip="198.51.100.9")
    for attempt in range(corrections.RATE_LIMIT):
        assert open_page(prober, f"garbage{attempt}").status_code == 404
    assert open_page(prober, "garbage-more").status_code == 429
    assert open_page(prober, token).status_code == 429
    prober.refresh_token("/login")
    assert send(prober, token, name="李四").status_code == 429
    assert open_page(visitor(app, ip="198.51.100.10"), token).status_code == 200


# Review


def test_a_correction_applies_only_after_the_manager_approves(app, team, customer, login):
    manager, owner = team
    change = submitted(app, customer, owner, name="张三", phone=NEW_PHONE, budget="1000-1500万")
    assert Customer.get_by_id(customer.id).name == "张三丰"
    boss = login(manager)
    page = boss.get("/corrections/").get_data(as_text=True)
    assert f'data-testid="change-{change.id}"' in page
    assert "139****5678" in page and "138****8000" in page
    assert NEW_PHONE not in page and PHONE not in page and "1000-1500万" in page
    response = boss.post(f"/corrections/{change.id}/approve")
    assert response.status_code == 303
    applied = Customer.get_by_id(customer.id)
    assert (applied.name, applied.phone, applied.budget) == ("张三", "+8613912345678", "1000-1500万")
    assert applied.phone_index == blind_index("phone", "+8613912345678")
    assert applied.review_status == "pending_first"
    change = ChangeRequest.get_by_id(change.id)
    assert (change.status, change.decided_by_id) == ("applied", manager.id) and change.decided_at
    assert AuditLog.select().where(AuditLog.action == "correction_applied").count() == 1
    logged = [e.changes for e in AuditLog.select().where(AuditLog.customer == customer)]
    assert len([e for e in logged if "budget" in e or "name" in e or "phone" in e]) >= 3
    assert not any(NEW_PHONE in text or "5678" in text for text in logged)
    assert f'data-testid="change-{change.id}"' not in boss.get("/corrections/").get_data(as_text=True)
    assert boss.post(f"/corrections/{change.id}/approve").status_code == 409


def test_reject_needs_a_reason_and_changes_nothing(app, team, customer, login):
    manager, owner = team
    change = submitted(app, customer, owner, name="张三")
    boss = login(manager)
    missing = boss.post(f"/corrections/{change.id}/reject", {"reason": "  "})
    assert missing.status_code == 422
    assert 'data-testid="error-reason"' in missing.get_data(as_text=True)
    assert ChangeRequest.get_by_id(change.id).status == "pending"
    assert boss.post(f"/corrections/{change.id}/reject", {"reason": "与证件不符"}).status_code == 303
    change = ChangeRequest.get_by_id(change.id)
    assert (change.status, change.reason, change.decided_by_id) == ("rejected", "与证件不符", manager.id)
    assert Customer.get_by_id(customer.id).name == "张三丰"


def test_an_approval_that_fails_validation_applies_nothing(app, team, customer, login):
    manager, owner = team
    change = submitted(app, customer, owner, name="张三", phone=NEW_PHONE, budget="1000-1500万")
    create_customer(owner=owner, phone=NEW_PHONE, name="王五")  # the phone was taken in the meantime
    response = login(manager).post(f"/corrections/{change.id}/approve")
    assert response.status_code == 422
    assert 'data-testid="change-error"' in response.get_data(as_text=True)
    kept = Customer.get_by_id(customer.id)
    assert (kept.name, kept.phone, kept.budget, kept.review_status) == (
        "张三丰",
        "+8613800138000",
        "800-1000万",
        "approved",
    )
    assert ChangeRequest.get_by_id(change.id).status == "pending"
    assert not AuditLog.select().where(AuditLog.action.in_(["field_changed", "correction_applied"])).exists()


# Who may do what


@pytest.mark.parametrize(
    "who, status",
    [
        ("owner", 200),
        ("manager", 200),
        ("reception", 403),
        ("other_rep", 403),
        ("other_manager", 403),
        ("auditor", 403),
        ("admin", 403),
    ],
)
def test_who_may_create_a_link(team, customer, make_user, login, who, status):
    manager, owner = team
    users = {"owner": owner, "manager": manager}
    other_team = make_user("manager")
    user = users.get(who) or (
        make_user("rep", manager=other_team)
        if who == "other_rep"
        else other_team
        if who == "other_manager"
        else make_user(who)
    )
    session = login(user)
    response = session.post(f"/customers/{customer.id}/correction-link")
    assert response.status_code == status
    assert CorrectionLink.select().count() == (1 if status == 200 else 0)
    assert session.get(f"/customers/{customer.id}/correction-link").status_code == 405


@pytest.mark.parametrize(
    "who, allowed",
    [
        ("manager", True),
        ("auditor", True),
        ("other_manager", False),
        ("owner", False),
        ("reception", False),
        ("admin", False),
    ],
)
def test_who_may_decide_a_correction(app, team, customer, make_user, login, who, allowed):
    manager, owner = team
    change = submitted(app, customer, owner, budget="1000-1500万")
    other_team = make_user("manager")
    other_team_rep = make_user("rep", manager=other_team)
    create_customer(owner=other_team_rep)
    user = {"manager": manager, "owner": owner, "other_manager": other_team}.get(who) or make_user(who)
    session = login(user)
    listed = session.get("/corrections/")
    if who in ("manager", "auditor", "other_manager"):
        assert (f'data-testid="change-{change.id}"' in listed.get_data(as_text=True)) is allowed
    else:
        assert listed.status_code == 403
    response = session.post(f"/corrections/{change.id}/approve")
    assert response.status_code == (303 if allowed else 403)
    assert ChangeRequest.get_by_id(change.id).status == ("applied" if allowed else "pending")
    assert session.post(f"/corrections/{change.id}/reject", {"reason": "x"}).status_code == (
        409 if allowed else 403
    )


def test_staff_routes_need_a_login(client, customer):
    assert client.get("/corrections/").status_code == 302
    assert client.post(f"/customers/{customer.id}/correction-link").status_code in (302, 400)


# The QR code page and the client page


def test_the_qr_page_has_an_inline_svg_the_url_and_no_script(app, team, customer, login):
    session = login(team[1])
    response = session.post(f"/customers/{customer.id}/correction-link")
    html = response.get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert "<script" not in svg.lower() and "on" + "load" not in svg.lower()
    url = re.search(r'data-testid="correction-url">(http://localhost/c/[^<]+)</a>', html).group(1)
    assert url in html and "张*" in html and "张三丰" not in html
    fragment = session.post(f"/customers/{customer.id}/correction-link", htmx=True).get_data(as_text=True)
    assert "<svg" in fragment and "<html" not in fragment and "<script" not in fragment.lower()
    assert open_page(visitor(app), url.rsplit("/", 1)[1]).status_code == 410  # revoked by the second link
    newest = re.search(r'data-testid="correction-url">http://localhost/c/([^<]+)</a>', fragment).group(1)
    assert open_page(visitor(app), newest).status_code == 200


def test_the_client_page_offers_the_link_and_counts_waiting_corrections(
    app, team, customer, login, make_user
):
    manager, owner = team
    mine = login(owner).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="create-correction-link"' in mine and 'data-testid="corrections-waiting"' not in mine
    submitted(app, customer, owner, budget="1000-1500万")
    boss = login(manager).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="corrections-waiting"' in boss and f"/corrections/?customer={customer.id}" in boss
    audit = login(make_user("auditor")).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert (
        'data-testid="corrections-waiting"' in audit and 'data-testid="create-correction-link"' not in audit
    )
    other = login(make_user("rep")).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="corrections"' not in other
