"""The outbox is no side door past the mask (issue 12, medium 3). Before the fix manager B's colleague
got 403 on the client page's reveal but 200 and the full number from `POST /outbox/<id>/phone`, and
the list showed the message text, the full name in it, to the desk and every manager.

Now: the desk sends by hand (it needs the number), a manager only to customers they may see in full;
each number shown is an access-log row; the list shows the masked name and a masked text."""

import pytest

from tests.security.factory import new_phone, register, spaced

NAME = "外发乙"
REASON = "购房需求信息不完整"


@pytest.fixture(scope="module")
def message(server, staff):
    """Rep B's registration rejected by manager B: a message to send by hand."""
    phone = new_phone()
    customer_id = register(staff["repb"], name=NAME, phone=phone)
    rejected = staff["mgrb"].post(
        f"/review/{customer_id}/reject", {"level": "1", "reason": REASON}, htmx=True
    )
    assert rejected.status == 200, rejected.text[:300]  # htmx: no flash naming the customer left behind
    rows = server.db.query("SELECT id FROM outbox_message WHERE customer_id = ?", (customer_id,))
    assert len(rows) == 1, rows
    return {"id": rows[0][0], "customer": customer_id, "phone": phone}


def _reveals(server, username: str, customer_id: int) -> list[tuple]:
    return server.db.query(
        'SELECT a.action, a.fields FROM access_log a JOIN "user" u ON u.id = a.actor_id'
        " WHERE u.username = ? AND a.customer_id = ? ORDER BY a.id",
        (username, customer_id),
    )


def _shows(text: str, message) -> list[str]:
    phone = message["phone"]
    return [label for label, secret in (("name", NAME), ("phone", phone), ("phone", spaced(phone)))
            if secret in text]  # fmt: skip


@pytest.mark.parametrize("username", ["desk", "mgra", "mgrb"])
def test_the_list_shows_masked_names_and_texts(staff, message, username):
    page = staff[username].get("/outbox/")
    assert page.status == 200
    assert f'data-testid="message-{message["id"]}"' in page.text
    assert not _shows(page.text, message), f"{username}'s outbox list shows {_shows(page.text, message)}"
    # What the message is about stays readable: the customer's text for the reason, never the
    # internal reason itself.
    assert "外**" in page.text and "请补充您的购房需求" in page.text
    assert REASON not in page.text


def test_a_manager_of_another_team_gets_no_number_and_cannot_send(server, staff, message):
    manager_a = staff["mgra"]
    for htmx in (True, False):
        refused = manager_a.post(f"/outbox/{message['id']}/phone", htmx=htmx)
        assert refused.status == 403, f"htmx={htmx}: {refused.status}"
        assert not _shows(refused.text, message)
    page = manager_a.get("/outbox/").text
    assert f'data-testid="reveal-{message["id"]}"' not in page
    assert f'data-testid="mark-sent-{message["id"]}"' not in page
    assert manager_a.post(f"/outbox/{message['id']}/sent", htmx=True).status == 403
    assert server.db.query("SELECT status FROM outbox_message WHERE id = ?", (message["id"],)) == [
        ("to_send",)
    ]
    assert _reveals(server, "mgra", message["customer"]) == []


@pytest.mark.parametrize("username", ["desk", "mgrb"])
def test_who_sends_by_hand_sees_the_number_and_the_text_and_it_is_logged(server, staff, message, username):
    before = len(_reveals(server, username, message["customer"]))
    shown = staff[username].post(f"/outbox/{message['id']}/phone", htmx=True)
    assert shown.status == 200
    assert spaced(message["phone"]) in shown.text and NAME in shown.text
    logged = _reveals(server, username, message["customer"])
    assert len(logged) == before + 1 and logged[-1] == ("reveal", "phone")
