"""Open redirects: whatever `next` says, the answer never sends the browser to another site."""

from urllib.parse import quote, urljoin, urlparse

import pytest

from tests.security.factory import register
from tests.security.live import PASSWORD

EVIL = (
    "http://evil.example/",
    "https://evil.example/login",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "\\/evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:evil.example",
    "https:/evil.example",
    " //evil.example/",
    "/\t/evil.example/",
    "/%09/evil.example/",
    "/%2F%2Fevil.example/",
    "%2F%2Fevil.example/",
    "http://127.0.0.1@evil.example/",
    "evil.example",
)


def _where_a_browser_goes(base: str, location: str) -> tuple[str, str]:
    """(scheme, host) a browser would load for this Location header (WHATWG URL rules, roughly:
    surrounding spaces and control characters dropped, tabs and newlines removed, \\ read as /)."""
    cleaned = location.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10 ")
    cleaned = "".join(ch for ch in cleaned if ch not in "\t\r\n").replace("\\", "/")
    target = urlparse(urljoin(base + "/", cleaned))
    return target.scheme.lower(), target.netloc.lower()


def _assert_stays(server, response, what):
    assert response.status in (301, 302, 303, 307, 308), f"{what}: {response.status}"
    location = response.location or ""
    scheme, host = _where_a_browser_goes(server.base, location)
    assert (scheme, host) == ("http", f"127.0.0.1:{server.port}"), f"{what}: Location {location!r}"


@pytest.mark.parametrize("target", EVIL)
def test_login_next_stays_on_site(server, target):
    client = server.client()
    client.refresh_token(f"/login?next={quote(target, safe='')}")
    response = client.post("/login", {"username": "solo4", "password": PASSWORD, "next": target})
    _assert_stays(server, response, f"login next={target!r}")


def test_login_next_to_an_own_page_is_kept(server):
    """The control: a path of our own is where login goes, so the refusals above are the check."""
    client = server.client()
    client.refresh_token("/login")
    response = client.post("/login", {"username": "solo4", "password": PASSWORD, "next": "/customers/?q=x"})
    assert response.status == 303 and response.location == "/customers/?q=x"


@pytest.mark.parametrize("target", EVIL)
def test_language_switch_next_stays_on_site(server, target):
    response = server.client().get(f"/lang/en?next={quote(target, safe='')}")
    _assert_stays(server, response, f"/lang next={target!r}")


@pytest.mark.parametrize("target", EVIL)
def test_logged_in_user_sent_to_login_with_next_stays_on_site(staff, server, target):
    response = staff["repa"].get(f"/login?next={quote(target, safe='')}")
    _assert_stays(server, response, f"logged-in /login next={target!r}")


def test_resubmit_next_stays_on_site(staff, server):
    rep, manager = staff["repa"], staff["mgra"]
    customer = register(rep, name="段誉")
    assert manager.post(f"/review/{customer}/reject", {"reason": "联系电话无法接通或不是本人"}).status == 303
    for target in EVIL:
        response = rep.post(f"/review/{customer}/resubmit", {"next": target})
        _assert_stays(server, response, f"resubmit next={target!r}")
