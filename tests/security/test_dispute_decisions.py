"""Who decides a dispute (撞单), and what an old one can still do (issue 12, medium 6). Before the fix
the claimant's own manager decided a dispute over another team's customer and took it for their
rep; and a dispute left open after the customer changed owner still moved the customer."""

import re

from tests.security.factory import register


def _dispute(server, staff, name: str) -> tuple[int, int]:
    """Rep A's customer, claimed by rep B: (customer id, dispute id)."""
    customer_id = register(staff["repa"], name=name)
    opened = staff["repb"].post(
        f"/reception/customers/{customer_id}/dispute", {"reason": f"{name}是我先接待的"}
    )
    assert opened.status == 303, opened.text[:300]
    rows = server.db.query("SELECT id FROM dispute WHERE customer_id = ?", (customer_id,))
    assert len(rows) == 1
    return customer_id, rows[0][0]


def _owner(server, customer_id: int) -> str:
    rows = server.db.query(
        'SELECT u.username FROM customer c JOIN "user" u ON u.id = c.owner_id WHERE c.id = ?', (customer_id,)
    )
    return rows[0][0]


def _status(server, dispute_id: int) -> str:
    return server.db.query("SELECT status FROM dispute WHERE id = ?", (dispute_id,))[0][0]


def test_the_claimants_manager_cannot_decide_over_another_teams_customer(server, staff):
    customer_id, dispute_id = _dispute(server, staff, "撞单甲")
    manager_b = staff["mgrb"]
    refused = manager_b.post(
        f"/disputes/{dispute_id}/decide", {"decision": "to_claimant", "note": "我方在先"}
    )
    assert _owner(server, customer_id) == "repa", "the claimant's manager took the customer for their rep"
    assert refused.status == 403 and _status(server, dispute_id) == "open"
    # Manager B still sees their rep's claim, masked and without a decision to make.
    page = manager_b.get("/disputes/").text
    assert f'data-testid="dispute-{dispute_id}"' in page
    assert "撞单甲" not in page and "撞**" in page, "the disputes page shows another team's customer in full"
    assert f'data-testid="decide-{dispute_id}"' not in page
    # The owner's manager decides.
    page = staff["mgra"].get("/disputes/").text
    assert f'data-testid="decide-{dispute_id}"' in page and "撞单甲" in page
    decided = staff["mgra"].post(
        f"/disputes/{dispute_id}/decide", {"decision": "to_claimant", "note": "核实在先"}
    )
    assert decided.status == 303
    assert _owner(server, customer_id) == "repb" and _status(server, dispute_id) == "decided"


def test_a_dispute_older_than_the_owner_moves_nobody(server, staff):
    customer_id, dispute_id = _dispute(server, staff, "撞单乙")
    manager_a = staff["mgra"]
    reassign_form = manager_a.get(f"/customers/{customer_id}/reassign", htmx=True).text
    solo = re.search(r'<option[^>]*value="(\d+)"[^>]*>[^<]*\(solo5\)</option>', reassign_form)
    assert solo, "the reassign form offers no solo5"
    moved = manager_a.post(
        f"/customers/{customer_id}/reassign", {"owner_id": solo.group(1), "reason": "调整分配"}
    )
    assert moved.status == 303 and _owner(server, customer_id) == "solo5"

    answer = manager_a.post(f"/disputes/{dispute_id}/decide", {"decision": "to_claimant", "note": "旧撞单"})
    assert _owner(server, customer_id) == "solo5", "an out-of-date dispute moved the customer"
    assert answer.status == 303 and _status(server, dispute_id) == "open"

    page = manager_a.get("/disputes/").text
    assert '<li class="error">' in page, "no message says why nothing moved"
    card = page[page.index(f'data-testid="dispute-{dispute_id}"') :][:3000]
    assert 'data-testid="dispute-superseded"' in card, "the page does not say the dispute is out of date"
    assert f'data-testid="decide-{dispute_id}"' not in card

    closed = manager_a.post(f"/disputes/{dispute_id}/close")
    assert closed.status == 303
    assert _status(server, dispute_id) == "superseded" and _owner(server, customer_id) == "solo5"
    audit = server.db.query(
        "SELECT action FROM audit_log WHERE customer_id = ? AND action IN (?, ?, ?) ORDER BY id",
        (customer_id, "dispute_opened", "dispute_decided", "dispute_superseded"),
    )
    assert [row[0] for row in audit] == ["dispute_opened", "dispute_superseded"]
