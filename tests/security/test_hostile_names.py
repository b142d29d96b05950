"""A staff member's display name is text, never markup: a name that is an htmx element (htmx acts on
its attributes whatever the CSP says) comes back escaped wherever a translated message carries it."""

import pytest

from tests.security.live import PASSWORD

HOSTILE = "<i hx-post=/logout hx-trigger=load>"
ESCAPED = "&lt;i hx-post=/logout hx-trigger=load&gt;"


@pytest.fixture(scope="module")
def hostile_rep(server, staff):
    admin = staff["admin"]
    admin.refresh_token("/admin/users")
    created = admin.post(
        "/admin/users",
        {"username": "hostile", "display_name": HOSTILE, "role": "rep", "manager": "", "password": PASSWORD},
    )
    assert created.status == 303, f"{created.status}: {created.text[:500]}"
    ((user_id,),) = server.db.query('SELECT id FROM "user" WHERE username = ?', ("hostile",))
    return user_id


def test_hostile_display_name_is_escaped_in_the_rotation_refusal(staff, hostile_rep):
    desk = staff["desk"]
    desk.refresh_token("/reception/")
    # The rep is not on duty: the 422 fragment says so, with the rep's name in the message.
    refused = desk.post(f"/reception/rotation/{hostile_rep}/available", htmx=True)
    assert refused.status == 422, refused.status
    assert 'data-testid="rotation-error"' in refused.text
    assert "<html" not in refused.text
    assert HOSTILE not in refused.text
    assert "hx-post=/logout" not in refused.text.replace(ESCAPED, "")
    assert ESCAPED in refused.text
