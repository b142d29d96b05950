"""The review's stale-row answer is no oracle: a manager posting decisions over ids learns no full
name of a customer they may not review (issue 12, medium 1).

A decision that names a level the record has left answers 409 "already reviewed"; before the fix it
did so, with the customer's full name and status, ahead of checking whether the caller reviews that
customer at all."""

import re

import pytest

from tests.security.factory import register

NAMES = ("审旧甲", "审旧乙", "审旧丙")


@pytest.fixture(scope="module")
def moved_on(staff):
    """Rep A's registrations, approved by manager A: they left the first level for the audit team."""
    rep_a, manager_a = staff["repa"], staff["mgra"]
    ids = [register(rep_a, name=name) for name in NAMES]
    for customer_id in ids:
        approved = manager_a.post(f"/review/{customer_id}/approve", {"level": "1"}, htmx=True)
        assert approved.status == 200, approved.text[:300]
    return dict(zip(ids, NAMES, strict=True))


@pytest.mark.parametrize("decision", ["reject", "approve"])
@pytest.mark.parametrize("htmx", [True, False])
def test_a_manager_of_another_team_learns_no_name_from_a_loop_over_ids(staff, moved_on, decision, htmx):
    manager_b = staff["mgrb"]
    first, last = min(moved_on), max(moved_on)
    answers = {}
    for customer_id in range(first - 3, last + 4):
        for level in ("1", "2"):
            response = manager_b.post(
                f"/review/{customer_id}/{decision}", {"level": level, "reason": "资料不全"}, htmx=htmx
            )
            answers[(customer_id, level)] = response
            leaked = [name for name in NAMES if name in response.text]
            assert not leaked, f"{decision} #{customer_id} at level {level}: {response.status} shows {leaked}"
    for customer_id in moved_on:
        assert {answers[(customer_id, level)].status for level in ("1", "2")} == {403}


def test_the_reviewer_of_the_team_is_still_told_who_was_reviewed(staff, moved_on):
    """Manager A reviews rep A's customers: the stale row names the customer, as their queue did."""
    customer_id, name = next(iter(moved_on.items()))
    stale = staff["mgra"].post(
        f"/review/{customer_id}/reject", {"level": "1", "reason": "资料不全"}, htmx=True
    )
    assert stale.status == 409
    assert 'data-testid="review-stale"' in stale.text and name in stale.text


def test_a_reviewer_who_may_not_see_the_customer_gets_the_masked_name(staff):
    """Manager A registered the customer for rep A, so another manager reviews it (nobody reviews what
    they registered); that manager may review it, but may not see it in full: queue and stale row
    show the masked name."""
    manager_a, manager_b = staff["mgra"], staff["mgrb"]
    customer_id = register(manager_a, name="审冲突", rep=_option(manager_a, "repa"))
    queue = manager_b.get("/review/").text
    assert f'data-customer-id="{customer_id}"' in queue, "the other manager does not review it"
    assert "审冲突" not in queue and "审**" in queue
    decided = manager_b.post(f"/review/{customer_id}/approve", {"level": "1"}, htmx=True)
    assert decided.status == 200
    stale = manager_b.post(f"/review/{customer_id}/approve", {"level": "1"}, htmx=True)
    assert stale.status == 409 and 'data-testid="review-stale"' in stale.text
    assert "审冲突" not in stale.text and "审**" in stale.text


def _option(client, username: str) -> str:
    """The value of the registration form's sales-rep option for this user."""
    page = client.get("/reception/register").text
    for value, label in re.findall(r'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', page):
        if label.strip() == username:
            return value
    raise AssertionError(f"no option for {username} in the registration form")
