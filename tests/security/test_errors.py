"""Errors never show a stack trace or a debugger, and odd input is a 4xx, never a 500."""

import http.client
import socket

import pytest

from tests.security.factory import register, registration
from tests.security.live import COOKIE

LEAKS = ("Traceback", "werkzeug.debug", "__debugger__", 'File "/', "peewee.", "sqlite3.", "psycopg.")
HUGE = 2**70  # beyond a 64-bit integer: the database driver cannot take it as a parameter


def _clean(response, what):
    assert response.status < 500, f"{what}: {response.status}"
    leaked = [word for word in LEAKS if word in response.text]
    assert not leaked, f"{what}: the answer shows {leaked}"


def test_unknown_page_is_a_plain_404(staff, server):
    for client in (server.client(), staff["repa"]):
        response = client.get("/no-such-page/../../etc/passwd")
        assert response.status == 404
        _clean(response, "404")


def test_wrong_method_is_a_plain_405(staff, server):
    rep = staff["repa"]
    for method, path in (("DELETE", "/customers/"), ("PUT", "/reception/register"), ("GET", "/logout")):
        response = rep.request(method, path)
        assert response.status == 405, f"{method} {path}: {response.status}"
        _clean(response, f"{method} {path}")
    response = server.client().request("PATCH", "/healthz")
    assert response.status == 405


def test_server_header_names_no_version(server):
    response = server.client().get("/healthz")
    assert not any(ch.isdigit() for ch in response.header("Server")), response.header("Server")
    assert not response.header("X-Powered-By")


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"social_insurance_months": "abc"}, "social_insurance_months"),
        ({"social_insurance_months": "-1"}, "social_insurance_months"),
        ({"homes_owned": "1e9"}, "homes_owned"),
        ({"homes_owned": str(HUGE)}, "homes_owned"),
        ({"gender": "X"}, "gender"),
        ({"grade": "Z"}, "grade"),
        ({"id_type": "alien"}, "id_type"),
        ({"visit_type": "telepathy"}, "visit_type"),
    ],
)
def test_malformed_registration_is_a_422_at_the_field(staff, changes, field):
    response = staff["repa"].post("/reception/register", registration(**changes))
    assert response.status == 422, f"{changes}: {response.status}"
    assert f'data-testid="error-{field}"' in response.text
    _clean(response, str(changes))


def test_malformed_followup_is_a_422(staff):
    rep = staff["repa"]
    customer = register(rep, name="乔峰")
    for values in (
        {"kind": "call", "content": "x", "next_at": "not-a-date"},
        {"kind": "call", "content": "x", "next_at": "99999-01-01"},
        {"kind": "teleport", "content": "x"},
        {"kind": "call", "content": "x", "grade": "Z"},
        {"kind": "call", "content": "x", "corrects": "abc"},
    ):
        response = rep.post(f"/customers/{customer}/followups", values, htmx=True)
        assert response.status == 422, f"{values}: {response.status}"
        _clean(response, str(values))


def test_form_bytes_that_are_not_utf8_are_refused_cleanly(staff):
    rep = staff["repa"]
    body = b"csrf_token=" + rep.token.encode() + b"&name=%FF%FE&phone=%C0%AF&consent=y&channel=walk_in"
    response = rep.request("POST", "/reception/register", data=body)
    assert response.status in (400, 422), response.status
    _clean(response, "non-UTF-8 form")


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        ".",
        "eyJfdXNlcl9pZCI6IjEuMCJ9.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",  # {"_user_id": "1.0"}, unsigned
        ".eJyrVopPLC3JiC8tTi2KT0nNTVWyUiooys9KTS5RqgUAgmAJbQ.ZZZZZZ.ZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "x" * 4000,
    ],
)
def test_broken_session_cookie_is_treated_as_no_session(server, cookie):
    client = server.client()
    client.set_cookie(cookie, COOKIE)
    response = client.get("/customers/")
    assert response.status == 302, response.status
    _clean(response, f"cookie {cookie[:20]!r}")
    assert client.get("/login").status == 200


def test_tampered_real_cookie_is_not_a_session(server, staff):
    real = staff["repa"].cookie()
    payload, _, signature = real.rpartition(".")
    tampered = server.client()
    tampered.set_cookie(f"{payload}.{signature[::-1]}")
    assert tampered.get("/").status == 302


def test_a_10_mb_form_is_refused_with_413(server, staff):
    """A desk form is a few kilobytes: a 10 MB one is refused from its headers, never parsed or echoed.

    The server answers before reading the body, so the test sends the headers and waits for the
    answer (a client that pushed all 10 MB first would meet a closed connection instead)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/reception/register")
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(10 * 1024 * 1024))
    conn.putheader("Cookie", f"{COOKIE}={staff['repa'].cookie()}")
    conn.endheaders()
    conn.send(b"notes=" + b"x" * 1024)
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    assert response.status == 413, f"a 10 MB form to /reception/register was accepted: {response.status}"
    assert "Traceback" not in body and len(body) < 20_000


def test_a_body_over_the_limit_is_413_before_it_is_read(server, staff):
    """Content-Length past MAX_CONTENT_LENGTH: refused from the headers alone."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/reception/register")
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.putheader("Content-Length", str(64 * 1024 * 1024))
    conn.putheader("Cookie", f"{COOKIE}={staff['repa'].cookie()}")
    conn.endheaders()
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    assert response.status == 413, response.status
    assert "Traceback" not in body


def test_huge_ids_are_404_not_500(staff, routes):
    """Every GET route with an integer in its path, given one beyond 64 bits, as the admin and a manager."""
    problems = []
    for role in ("admin", "manager"):
        client = staff.role(role)
        for route in routes:
            ints = [name for converter, _, name in route.arguments if converter == "int"]
            if "GET" not in route.methods or not ints:
                continue
            url = route.url(**dict.fromkeys(ints, HUGE))
            response = client.get(url)
            if response.status >= 500:
                problems.append(f"{role} GET {url} ({route.endpoint}): {response.status}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [
        f"/customers/?before={HUGE}",
        f"/customers/?owner={HUGE}",
        f"/review/?rep={HUGE}",
        f"/corrections/?customer={HUGE}",
        f"/pool/?before=none.{HUGE}",
        f"/customers/export.xlsx?owner={HUGE}",
    ],
)
def test_huge_numbers_in_queries_are_not_500(staff, path):
    response = staff["mgra"].get(path)
    _clean(response, path)


def test_huge_ids_in_posts_are_not_500(staff):
    manager = staff["mgra"]
    customer = register(staff["repa"], name="虚竹")
    problems = []
    for path, values in (
        ("/review/batch", {"ids": str(HUGE)}),
        (f"/review/{HUGE}/approve", {}),
        (f"/customers/{HUGE}/followups", {"kind": "call", "content": "x"}),
        (f"/customers/{customer}/followups", {"kind": "call", "content": "x", "corrects": str(HUGE)}),
        (f"/disputes/{HUGE}/decide", {"decision": "keep_owner"}),
    ):
        response = manager.post(path, values)
        if response.status >= 500:
            problems.append(f"POST {path} {values}: {response.status}")
    assert not problems, "\n".join(problems)


def test_malformed_http_gets_a_plain_400(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /\x00\x01 HTTP/9.9\r\nHost: \r\n\r\n")
        answer = sock.recv(65536).decode(errors="replace")
    assert answer == "" or answer.startswith(("HTTP/1.1 400", "HTTP/1.0 400")), answer[:200]
    assert "Traceback" not in answer
