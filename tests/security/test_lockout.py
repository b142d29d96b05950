"""Lockout that an attacker cannot turn against the office, and that says nothing about who exists.

Wrong passwords lock an account only from the address they came from; a much higher count over all
addresses locks it everywhere and alerts the audit team. Known and unknown usernames get the same
answer at every step. Behind the reverse proxy (VILLA_TRUSTED_PROXIES=1) every limit counts the
real client named in X-Forwarded-For, so one guessing client does not lock out the whole office;
without that setting the header is ignored (test_login)."""

import json
import re

import pytest

from tests.security.live import PASSWORD


def _login(server, username, password, address=None):
    client = server.client()
    headers = {"X-Forwarded-For": address} if address else {}
    client.refresh_token("/login")
    return client.post("/login", {"username": username, "password": password}, headers=headers)


def _page(response, username: str) -> str:
    """The answer without what differs anyway: the typed username and the CSRF tokens."""
    html = response.text.replace(username, "USERNAME")
    return f"{response.status} " + re.sub(r'(value|content)="[^"]*"', r'\1=""', html)


def _attempts(server, username, plan):
    """Wrong passwords from each address in turn: [(address, how many)] -> the answers' pages."""
    return [
        _page(_login(server, username, f"wrong-password-{n}", address), username)
        for address, count in plan
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def lockout_server(servers):
    return servers.get("lockout")


@pytest.fixture(scope="module")
def proxy(servers):
    return servers.get("proxy")


def test_known_and_unknown_usernames_get_the_same_answers(lockout_server):
    """Wrong password, the lockout it leads to, and the locked account: the same status and text."""
    known = _attempts(lockout_server, "known", [(None, 7)])
    unknown = _attempts(lockout_server, "nobody-at-all", [(None, 7)])
    assert [page[:3] for page in known] == ["200"] * 4 + ["429"] * 3
    assert known == unknown
    right = _login(lockout_server, "known", PASSWORD)
    assert _page(right, "known") == _page(_login(lockout_server, "nobody-at-all", PASSWORD), "nobody-at-all")


def test_guessing_from_one_address_does_not_lock_the_account_elsewhere(proxy):
    statuses = [_login(proxy, "target", f"wrong-{n}", "198.51.100.10").status for n in range(5)]
    assert statuses == [200] * 4 + [429], statuses
    assert _login(proxy, "target", PASSWORD, "198.51.100.10").status == 429
    # The owner, at another desk, still logs in.
    assert _login(proxy, "target", PASSWORD, "198.51.100.11").status == 303


def test_many_addresses_lock_the_account_everywhere_and_alert_the_audit_team(proxy):
    plan = [("198.51.100.20", 4), ("198.51.100.21", 4)]  # 8: the per-account ceiling on this server
    known = _attempts(proxy, "target2", plan)
    assert [page[:3] for page in known] == ["200"] * 7 + ["429"]
    assert _login(proxy, "target2", PASSWORD, "198.51.100.22").status == 429
    ((user_id,),) = proxy.db.query('SELECT id FROM "user" WHERE username = ?', ("target2",))
    alerts = proxy.db.query(
        "SELECT target, changes FROM audit_log WHERE action = ?", ("alert_account_locked",)
    )
    assert [target for target, _ in alerts] == [f"user:{user_id}"]
    details = json.loads(alerts[0][1])
    assert details["failures"] == 8 and details["addresses"] == 2
    assert "wrong-" not in alerts[0][1] and PASSWORD not in alerts[0][1]
    # An unknown username goes through the same steps, with the same answers (and no alert).
    unknown = _attempts(proxy, "ghost", [("198.51.100.30", 4), ("198.51.100.31", 4)])
    assert unknown == [page.replace("target2", "ghost") for page in known]
    assert _login(proxy, "ghost", PASSWORD, "198.51.100.32").status == 429
    assert len(proxy.db.query("SELECT id FROM audit_log WHERE action = ?", ("alert_account_locked",))) == 1


def test_failures_behind_the_proxy_count_per_real_client(proxy):
    guesses = [_login(proxy, f"guess{n}", "wrong-password", "203.0.113.50").status for n in range(7)]
    assert guesses == [200] * 6 + [429], guesses
    assert _login(proxy, "walker", PASSWORD, "203.0.113.50").status == 429
    # Everyone else behind the same proxy still logs in.
    assert _login(proxy, "walker", PASSWORD, "203.0.113.51").status == 303


def test_correction_link_limit_behind_the_proxy_counts_per_real_client(proxy):
    client = proxy.client()
    hits = [
        client.get("/c/not-a-real-token", headers={"X-Forwarded-For": "203.0.113.60"}).status
        for _ in range(21)
    ]
    assert hits[:20] == [404] * 20 and hits[20] == 429, hits
    other = client.get("/c/not-a-real-token", headers={"X-Forwarded-For": "203.0.113.61"})
    assert other.status == 404
