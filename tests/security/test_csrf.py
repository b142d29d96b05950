"""CSRF: a POST without the token, with a wrong one, or with another session's is a 400 and changes
nothing; the same request with the page's own token goes through (so the 400 was the token's)."""

import pytest

from tests.security.factory import register, registration

FORGED = "IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAi.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"


def _bad_tokens(staff, client):
    """(label, form token, header token) for each way a token can be wrong."""
    other = staff["repb"] if client.username != "repb" else staff["mgrb"]
    assert other.token and other.token != client.token
    anonymous = staff.server.client().refresh_token("/login")
    return [
        ("missing", None, None),
        ("wrong", FORGED, None),
        ("mangled", client.token[:-3] + ("aaa" if not client.token.endswith("aaa") else "bbb"), None),
        ("another session's", other.token, None),
        ("another session's, in the header", None, other.token),
        ("an anonymous session's", anonymous, None),
    ]


def _attempts(staff, client, path, values, htmx=False):
    for label, token, header in _bad_tokens(staff, client):
        headers = {"X-CSRFToken": header} if header else {}
        response = client.post(path, values, token=token, headers=headers, htmx=htmx)
        yield label, response


def test_registration(staff):
    client = staff["repa"]
    values = registration()
    for label, response in _attempts(staff, client, "/reception/register", values):
        assert response.status == 400, f"{label} token: {response.status}"
    check = client.get(f"/reception/check?phone={values['phone']}", htmx=True)
    assert 'data-testid="dup-warning"' not in check.text, "a registration without a valid token was saved"
    assert client.post("/reception/register", values).status == 303
    check = client.get(f"/reception/check?phone={values['phone']}", htmx=True)
    assert 'data-testid="dup-warning"' in check.text


def test_token_in_the_header_is_accepted(staff):
    client = staff["repa"]
    values = registration()
    response = client.post("/reception/register", values, token=None, headers={"X-CSRFToken": client.token})
    assert response.status == 303


@pytest.mark.parametrize("htmx", [False, True])
def test_followup(staff, htmx):
    client = staff["repa"]
    customer = register(client, name="陆小凤")
    content = f"跟进内容-CSRF-{'htmx' if htmx else 'form'}"
    path = f"/customers/{customer}/followups"
    for label, response in _attempts(staff, client, path, {"kind": "call", "content": content}, htmx=htmx):
        assert response.status == 400, f"{label} token: {response.status}"
    assert content not in client.get(f"/customers/{customer}").text
    assert client.post(path, {"kind": "call", "content": content}, htmx=htmx).status in (200, 303)
    assert content in client.get(f"/customers/{customer}").text


def test_logout(staff, server):
    client = server.login("solo7")
    for label, response in _attempts(staff, client, "/logout", {}):
        assert response.status == 400, f"{label} token: {response.status}"
        assert client.is_logged_in(), f"logged out by a POST with a {label} token"
    assert client.post("/logout", {}).status == 303
    assert not client.is_logged_in()


def test_review_approve(staff):
    rep, manager = staff["repa"], staff["mgra"]
    customer = register(rep, name="花满楼")
    path = f"/review/{customer}/approve"
    for label, response in _attempts(staff, manager, path, {}):
        assert response.status == 400, f"{label} token: {response.status}"
    assert f"/review/{customer}/approve" in manager.get("/review/").text, "approved without a valid token"
    assert manager.post(path, {}).status == 303
    assert f"/review/{customer}/approve" not in manager.get("/review/").text


def test_login_form_needs_its_token(server):
    client = server.client()
    client.refresh_token("/login")
    response = client.post(
        "/login", {"username": "repa", "password": "correct-horse-battery-staple"}, token=None
    )
    assert response.status == 400
    assert not client.is_logged_in()


def test_a_token_from_before_login_is_dead_after_it(server):
    """The session is new at login, and so is its token: a page kept from before cannot post."""
    client = server.client()
    before = client.refresh_token("/login")
    client.post("/login", {"username": "solo6", "password": "correct-horse-battery-staple"})
    response = client.post("/reception/register", registration(), token=before)
    assert response.status == 400
