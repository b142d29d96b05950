"""Sessions: a new cookie at login (fixation), logout and password changes end every copy of a
session, the idle timeout logs out, and the cookie's flags (HttpOnly, SameSite, Secure behind HTTPS)."""

from urllib.parse import urlparse

import pytest

from tests.security.live import COOKIE, PASSWORD


def _session_cookie(response) -> str:
    cookies = [c for c in response.set_cookies() if c.startswith(f"{COOKIE}=")]
    assert cookies, f"no {COOKIE} cookie set: {response.set_cookies()}"
    return cookies[-1]


def _flags(set_cookie: str) -> dict:
    parts = [p.strip() for p in set_cookie.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}


def _copy(server, client):
    """Another browser holding a copy of this client's session cookie."""
    other = server.client()
    other.set_cookie(client.cookie())
    return other


def test_login_sets_a_new_session_and_the_old_cookie_stays_anonymous(server):
    client = server.client()
    client.refresh_token("/login")
    before = client.cookie()
    assert before, "the login page sets no session cookie"
    planted = _copy(server, client)  # what an attacker who set the cookie would still hold
    response = client.post("/login", {"username": "solo0", "password": PASSWORD})
    assert response.status == 303
    after = _session_cookie(response).split(";", 1)[0].split("=", 1)[1]
    assert after != before
    assert client.is_logged_in()
    answer = planted.get("/")
    assert answer.status == 302 and urlparse(answer.location).path == "/login"


def test_logout_ends_every_copy_of_the_session(server):
    client = server.login("solo1")
    copy = _copy(server, client)
    assert copy.is_logged_in()
    assert client.post("/logout", {}).status == 303
    assert not client.is_logged_in()
    answer = copy.get("/customers/")
    assert answer.status == 302 and urlparse(answer.location).path == "/login"
    htmx = copy.get("/customers/", htmx=True)
    assert htmx.status == 401 and urlparse(htmx.header("HX-Redirect")).path == "/login"


def test_password_change_ends_the_other_sessions(server):
    first, second = server.login("solo2"), server.login("solo2")
    copy = _copy(server, first)
    new = "another-long-passphrase-2"
    response = first.post("/account/password", {"current": PASSWORD, "new": new, "confirm": new})
    assert response.status == 303, response.text[:500]
    assert first.is_logged_in(), "the session that changed the password goes on"
    assert not second.is_logged_in(), "another browser's session survived the password change"
    assert not copy.is_logged_in(), "a copy of the old cookie survived the password change"
    assert _login_status(server, "solo2", PASSWORD) == 200  # the old password is refused
    assert _login_status(server, "solo2", new) == 303


def _login_status(server, username, password):
    client = server.client()
    client.refresh_token("/login")
    return client.post("/login", {"username": username, "password": password}).status


def test_cookie_flags_on_plain_http(server):
    client = server.client()
    page = client.get("/login")
    flags = _flags(_session_cookie(page))
    assert flags.get("httponly") is True
    assert str(flags.get("samesite", "")).lower() == "lax"
    assert "secure" not in flags  # plain HTTP on loopback: a Secure cookie would never come back
    client.token = None
    client.refresh_token("/login")
    login = client.post("/login", {"username": "solo3", "password": PASSWORD})
    flags = _flags(_session_cookie(login))
    assert flags.get("httponly") is True and str(flags.get("samesite", "")).lower() == "lax"
    assert "domain" not in flags


@pytest.fixture(scope="module")
def https_server(servers):
    """Behind the HTTPS proxy (VILLA_HTTPS=1): the cookie must be Secure."""
    return servers.get("https")


def test_cookie_is_secure_behind_https(https_server):
    page = https_server.client().get("/login")
    flags = _flags(_session_cookie(page))
    assert flags.get("secure") is True
    assert flags.get("httponly") is True and str(flags.get("samesite", "")).lower() == "lax"
    assert "max-age=" in page.header("Strict-Transport-Security")


@pytest.fixture(scope="module")
def idle_server(servers):
    """VILLA_IDLE_MINUTES=0: any pause between two requests is past the idle limit.

    The `seen` stamp lives in the signed cookie, so it cannot be aged from outside; a zero limit
    shows the same server-side rule at work without waiting (tests/test_auth.py times it in-process).
    """
    return servers.get("idle")


def test_idle_session_is_logged_out(idle_server):
    client = idle_server.client()
    client.refresh_token("/login")
    assert client.post("/login", {"username": "sleepy", "password": PASSWORD}).status == 303
    assert client.get("/").status == 200  # the first request stamps the session as seen
    answer = client.get("/customers/")  # any later one comes after the (zero) idle limit
    assert answer.status == 302 and urlparse(answer.location).path == "/login"
    login_page = client.get(answer.location)
    assert login_page.status == 200 and "您已0分钟未操作，系统已自动退出登录" in login_page.text
    again = client.get("/")
    assert again.status == 302, "the idle logout did not end the session"


def test_idle_htmx_request_is_told_to_log_in(idle_server):
    client = idle_server.client()
    client.refresh_token("/login")
    assert client.post("/login", {"username": "sleepy", "password": PASSWORD}).status == 303
    assert client.get("/").status == 200
    answer = client.get("/customers/", htmx=True)
    assert answer.status == 401 and urlparse(answer.header("HX-Redirect")).path == "/login"
