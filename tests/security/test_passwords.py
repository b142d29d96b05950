"""Guessable passwords are refused on every path that sets one: the user's own change on the web, an
admin creating a user or resetting a password, and `villa user create` / `reset-password` with
--password-stdin. Guessable means zxcvbn scores it below 3, counting the username, the display name
and the sales office's words (villa, 别墅, xiaoshou, shoulouchu …) as known to the attacker."""

import re

import pytest

from tests.security.live import PASSWORD, Client

# Each is 12 characters or more, so the old length rule let every one through.
WEAK = ("aaaaaaaaaaaa", "xiaoshou2026", "shoulouchu2026", "Bieshu123456", "fangchan8888")
STRONG = "lantern-orchid-quietly-7"
# The message, in Chinese (the default language): what was wrong and what to do instead.
TOO_EASY = "太容易被猜到"


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return match.group(1) if match else ""


def _login_status(server, username, password) -> int:
    client = server.client()
    client.refresh_token("/login")
    return client.post("/login", {"username": username, "password": password}).status


def test_own_password_change_refuses_guessable_passwords(server):
    solo = server.login("solo5")
    for weak in WEAK:
        solo.refresh_token("/account/password")
        refused = solo.post("/account/password", {"current": PASSWORD, "new": weak, "confirm": weak})
        assert refused.status == 422, f"{weak}: {refused.status}"
        assert TOO_EASY in _field_error(refused.text, "new"), weak
    assert _login_status(server, "solo5", WEAK[0]) == 200
    # The advice comes from zxcvbn, in Chinese: "aaaaaaaaaaaa" is a repeat.
    solo.refresh_token("/account/password")
    refused = solo.post("/account/password", {"current": PASSWORD, "new": WEAK[0], "confirm": WEAK[0]})
    assert "重复" in _field_error(refused.text, "new")


def test_the_users_own_names_count_as_guessable(staff):
    admin: Client = staff["admin"]
    admin.refresh_token("/admin/users")
    # Strong for a stranger, guessable for anyone who knows the user's name.
    values = {"username": "zhangwei", "display_name": "张伟", "role": "rep", "manager": ""}
    refused = admin.post("/admin/users", {**values, "password": "zhangwei2026!"})
    assert refused.status == 422, refused.status
    assert TOO_EASY in _field_error(refused.text, "password")


@pytest.mark.parametrize("weak", WEAK[:2])
def test_admin_cannot_create_or_reset_with_a_guessable_password(server, staff, weak):
    admin: Client = staff["admin"]
    admin.refresh_token("/admin/users")
    values = {"username": "weakling", "display_name": "李四", "role": "rep", "manager": ""}
    refused = admin.post("/admin/users", {**values, "password": weak})
    assert refused.status == 422, refused.status
    assert TOO_EASY in _field_error(refused.text, "password")
    assert server.db.query('SELECT id FROM "user" WHERE username = ?', ("weakling",)) == []

    ((solo_id,),) = server.db.query('SELECT id FROM "user" WHERE username = ?', ("solo5",))
    admin.refresh_token(f"/admin/users/{solo_id}")
    refused = admin.post(f"/admin/users/{solo_id}/password", {"password": weak})
    assert refused.status == 422, refused.status
    assert TOO_EASY in _field_error(refused.text, "password")
    assert _login_status(server, "solo5", weak) == 200


def test_command_line_refuses_guessable_passwords(server):
    for weak in WEAK:
        created = server.villa("user", "create", "cliweak", "--role", "rep", "--password-stdin",
                               input=f"{weak}\n", check=False)  # fmt: skip
        assert created.returncode != 0, weak
        assert len(created.stderr.strip().splitlines()) == 1, created.stderr
        assert TOO_EASY in created.stderr and "Traceback" not in created.stderr
        reset = server.villa(
            "user", "reset-password", "solo5", "--password-stdin", input=f"{weak}\n", check=False
        )
        assert reset.returncode != 0, weak
        assert TOO_EASY in reset.stderr
    assert server.db.query('SELECT id FROM "user" WHERE username = ?', ("cliweak",)) == []
    assert _login_status(server, "solo5", WEAK[-1]) == 200
    made = server.villa(
        "user", "create", "clistrong", "--role", "rep", "--password-stdin", input=f"{STRONG}\n"
    )
    assert "created rep clistrong" in made.stdout
    assert _login_status(server, "clistrong", STRONG) == 303
