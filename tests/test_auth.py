"""Logging in and out: lockout, throttling, cookies, CSRF, idle timeout, password changes."""

from datetime import timedelta

import pytest

from villa.models import AuditLog, LoginFailure, User, now

from .conftest import PASSWORD, Session


def _login(client, username, password):
    session = Session(client)
    return session.post("/login", {"username": username, "password": password})


def _client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_good_login_redirects_home_and_sets_hardened_cookie(client, make_user):
    user = make_user("rep", username="lina")
    response = _login(client, "lina", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert User.get_by_id(user.id).last_login_at is not None
    assert AuditLog.select().where(AuditLog.action == "login").count() == 1


def test_username_is_case_insensitive(client, make_user):
    make_user("rep", username="lina")
    assert _login(client, "LiNa ", PASSWORD).status_code == 303


def test_wrong_password_shows_message_and_keeps_username(client, make_user):
    make_user("rep", username="lina")
    response = _login(client, "lina", "wrong-password-1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="error-password"' in html
    assert 'value="lina"' in html


def test_five_failures_lock_the_account_from_that_address_for_15_minutes(app, client, make_user):
    make_user("rep", username="lina")
    for _ in range(4):
        assert _login(client, "lina", "wrong-password-1").status_code == 200
    fifth = _login(client, "lina", "wrong-password-1")
    assert fifth.status_code == 429
    # Even the right password is refused from here, and the page says for how long...
    refused = _login(client, "lina", PASSWORD)
    assert refused.status_code == 429
    assert "15" in refused.get_data(as_text=True)
    # ...while the same account logs in from another address.
    elsewhere = _client_at(app, "10.0.0.9")
    assert _login(elsewhere, "lina", PASSWORD).status_code == 303
    LoginFailure.update(at=now() - timedelta(minutes=16)).execute()
    assert _login(client, "lina", PASSWORD).status_code == 303


def test_the_account_ceiling_locks_everywhere_alerts_and_a_reset_unlocks(app, client, make_user):
    app.config["ACCOUNT_FAILURES_PER_WINDOW"] = 6
    user = make_user("rep", username="lina")
    admin = make_user("admin")
    for n in range(6):
        desk = _client_at(app, f"10.0.0.{n % 3}")
        assert _login(desk, "lina", "wrong-password-1").status_code == (429 if n == 5 else 200)
    fresh = _client_at(app, "10.0.0.99")
    assert _login(fresh, "lina", PASSWORD).status_code == 429
    assert User.get_by_id(user.id).locked_until > now() + timedelta(minutes=14)
    (alert,) = AuditLog.select().where(AuditLog.action == "alert_account_locked")
    assert alert.target == f"user:{user.id}" and alert.actor_id is None
    assert alert.change_map == {"failures": 6, "addresses": 3, "minutes": 15}
    from villa.users import reset_password

    reset_password(User.get_by_id(user.id), "lantern-orchid-quietly-7", admin)
    assert _login(fresh, "lina", "lantern-orchid-quietly-7").status_code == 303
    assert User.get_by_id(user.id).locked_until is None


def test_many_failures_from_one_address_are_throttled(app, client, make_user):
    make_user("rep", username="lina")
    for _ in range(app.config["IP_FAILURES_PER_WINDOW"]):
        LoginFailure.create(ip="127.0.0.1")
    response = _login(client, "lina", PASSWORD)
    assert response.status_code == 429


def test_post_without_csrf_token_is_400(client, make_user):
    make_user("rep", username="lina")
    response = client.post("/login", data={"username": "lina", "password": PASSWORD})
    assert response.status_code == 400
    wrong = client.post("/login", data={"username": "lina", "password": PASSWORD, "csrf_token": "forged"})
    assert wrong.status_code == 400


def test_csrf_header_is_accepted_for_htmx(login_as):
    session = login_as("rep")
    response = session.client.post("/logout", headers={"X-CSRFToken": session.token, "HX-Request": "true"})
    assert response.status_code == 303


def test_copied_cookie_is_refused_after_logout(app, login_as):
    session = login_as("rep")
    stolen = session.client.get_cookie("villa_session").value
    assert session.post("/logout").status_code == 303
    thief = app.test_client()
    thief.set_cookie("villa_session", stolen)
    response = thief.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions(app, make_user, login):
    user = make_user("rep", username="lina")
    tablet, phone = login(user), login(user)
    response = tablet.post(
        "/account/password",
        {"current": PASSWORD, "new": "a-brand-new-secret", "confirm": "a-brand-new-secret"},
    )
    assert response.status_code == 303
    assert tablet.get("/").status_code == 200
    assert phone.get("/").status_code == 302


def test_idle_timeout_logs_out(app, login_as):
    session = login_as("rep")
    with session.client.session_transaction() as cookie_session:
        cookie_session["seen"] = now().timestamp() - (app.config["IDLE_TIMEOUT_MINUTES"] * 60 + 5)
    response = session.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    page = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "30" in page


def test_htmx_request_when_logged_out_gets_hx_redirect(client):
    response = client.get("/customers/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_admin_set_password_must_be_changed_first(make_user, login):
    user = make_user("rep", username="lina", must_change_password=True)
    session = login(user)
    response = session.get("/customers/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    changed = session.post(
        "/account/password", {"current": PASSWORD, "new": "my-own-secret-99", "confirm": "my-own-secret-99"}
    )
    assert changed.status_code == 303
    assert session.get("/customers/").status_code == 200
    assert User.get_by_id(user.id).must_change_password is False


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/customers/", "/customers/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_goes_to_our_own_paths(client, make_user, target, expected):
    make_user("rep", username="lina")
    session = Session(client)
    session.refresh_token(f"/login?next={target}")
    response = session.post("/login", {"username": "lina", "password": PASSWORD, "next": target})
    assert response.headers["Location"] == expected


def test_expired_password_forces_a_change(make_user, login):
    user = make_user("rep", username="lina")
    session = login(user)
    User.update(password_changed_at=now() - timedelta(days=91)).where(User.id == user.id).execute()
    response = session.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"


def test_new_password_must_follow_policy(make_user, login):
    user = make_user("rep", username="lina")
    session = login(user)
    response = session.post("/account/password", {"current": PASSWORD, "new": "short", "confirm": "short"})
    assert response.status_code == 422
    assert 'data-testid="error-new"' in response.get_data(as_text=True)
    assert User.get_by_id(user.id).password_hash == user.password_hash


def test_proxy_headers_count_only_when_the_proxy_is_trusted(monkeypatch, tmp_path):
    from villa.config import Config, ConfigError

    monkeypatch.setenv("VILLA_TRUSTED_PROXIES", "one")
    with pytest.raises(ConfigError, match="VILLA_TRUSTED_PROXIES must be a whole number"):
        Config(INSTANCE_PATH=str(tmp_path), SECRET_KEY="x")
    monkeypatch.setenv("VILLA_TRUSTED_PROXIES", "1")
    assert Config(INSTANCE_PATH=str(tmp_path), SECRET_KEY="x").TRUSTED_PROXIES == 1
    monkeypatch.delenv("VILLA_TRUSTED_PROXIES")
    assert Config(INSTANCE_PATH=str(tmp_path), SECRET_KEY="x").TRUSTED_PROXIES == 0
