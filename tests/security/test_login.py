"""Guessing passwords: five wrong ones lock the account (429) so the right one is refused too, and
too many failures from one address stop every login from it. Each on a server of its own, so the
failures counted here never lock out the rest of the suite."""

import re

import pytest

from tests.security.live import PASSWORD


def _login(client, username, password, headers=None):
    client.refresh_token("/login")
    return client.post("/login", {"username": username, "password": password}, headers=headers or {})


@pytest.fixture(scope="module")
def lockout_server(servers):
    return servers.get("lockout")


def test_five_wrong_passwords_lock_the_account(lockout_server):
    client = lockout_server.client()
    statuses = [_login(client, "victim", f"wrong-password-{n}").status for n in range(5)]
    assert statuses[:4] == [200] * 4, statuses
    assert statuses[4] == 429, statuses
    right = _login(client, "victim", PASSWORD)
    assert right.status == 429, "the right password was accepted on a locked account"
    assert not client.is_logged_in()
    # Locked is the account, not the desk: someone else logs in from the same address.
    assert _login(lockout_server.client(), "bystander", PASSWORD).status == 303


def test_wrong_password_answer_does_not_tell_whether_the_user_exists(lockout_server):
    known = _login(lockout_server.client(), "other", "wrong-password-x")
    unknown = _login(lockout_server.client(), "nobody-here", "wrong-password-x")
    assert known.status == unknown.status == 200
    assert _page(known.text, "other") == _page(unknown.text, "nobody-here")


def _page(html: str, username: str) -> str:
    """The page without what differs anyway: the typed username and the CSRF tokens."""
    html = html.replace(username, "USERNAME")
    return re.sub(r'(value|content)="[^"]*"', r'\1=""', html)


@pytest.fixture(scope="module")
def throttle_server(servers):
    return servers.get("throttle")


def test_failures_from_one_address_stop_every_login_from_it(throttle_server):
    client = throttle_server.client()
    # Different (unknown) usernames each time: no single account reaches its own lockout.
    statuses = [_login(client, f"guess{n}", "wrong-password").status for n in range(6)]
    assert statuses == [200] * 6, statuses
    assert _login(client, "guess6", "wrong-password").status == 429
    # Now even the right password of an untouched account is refused from this address...
    assert _login(throttle_server.client(), "innocent", PASSWORD).status == 429
    # ...and a forged X-Forwarded-For does not make it another address.
    spoofed = _login(
        throttle_server.client(), "innocent", PASSWORD, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert spoofed.status == 429
