"""The public pool: lapsed customers are released, reps claim them within a quota, managers reassign."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest

from tests.helpers import villa as run_villa
from villa.db import db
from villa.models import AuditLog, Customer, Setting, now
from villa.ownership import (
    OwnershipError,
    active_claims,
    claim,
    protection_days,
    reassign,
    release_lapsed,
    take_from_pool,
)


def lapsed(make_customer, owner, days=1, **fields):
    return make_customer(owner=owner, protected_until=now() - timedelta(days=days), **fields)


def pooled(make_customer, days_ago=1, **fields):
    return make_customer(
        owner=None, in_public_pool=True, pool_since=now() - timedelta(days=days_ago), **fields
    )


def audit(action):
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


# ---- Releasing lapsed protection ----


def test_release_moves_exactly_the_lapsed_unfinished_customers(make_user, make_customer):
    rep = make_user("rep", username="amy")
    registered = lapsed(make_customer, rep, stage="registered")
    visited = lapsed(make_customer, rep, days=30, stage="visited")
    protected = make_customer(owner=rep, protected_until=now() + timedelta(days=2))
    in_progress = [
        lapsed(make_customer, rep, stage=stage) for stage in ("pledged", "subscribed", "signed", "lost")
    ]
    already = pooled(make_customer, days_ago=5)

    released = release_lapsed()

    assert sorted(released) == sorted([registered.id, visited.id])
    for customer in (registered, visited):
        fresh = Customer.get_by_id(customer.id)
        assert (fresh.owner_id, fresh.in_public_pool, fresh.claimed_at) == (None, True, None)
        assert fresh.pool_since is not None
    for customer in [protected, *in_progress]:
        fresh = Customer.get_by_id(customer.id)
        assert (fresh.owner_id, fresh.in_public_pool) == (rep.id, False)
    assert Customer.get_by_id(already.id).pool_since == already.pool_since
    rows = audit("released_to_pool")
    assert sorted(row.customer_id for row in rows) == sorted(released)
    assert {row.changes for row in rows} == {json.dumps({"from": "amy"})}
    assert all(row.actor_id is None for row in rows)

    assert release_lapsed() == []
    assert len(audit("released_to_pool")) == 2


def test_release_handles_thousands_in_one_go(make_user, make_customer):
    rep = make_user("rep")
    customer = lapsed(make_customer, rep)
    # Copies of one lapsed row, straight into the table: the factory would be slow at this size.
    template = {f.name: getattr(customer, f.name) for f in Customer._meta.sorted_fields if f.name != "id"}
    rows = [{**template, "phone_index": f"bulk-{i}"} for i in range(1200)]
    with db.atomic():
        for start in range(0, len(rows), 100):
            Customer.insert_many(rows[start : start + 100]).execute()
    assert len(release_lapsed()) == 1201
    assert Customer.select().where(Customer.in_public_pool == True).count() == 1201  # noqa: E712
    assert len(audit("released_to_pool")) == 1201


# ---- Claiming ----


def test_a_claimed_customer_leaves_the_pool_with_fresh_protection(make_user, make_customer):
    rep = make_user("rep")
    customer = pooled(make_customer, protected_until=now() - timedelta(days=3))
    claim(customer, rep)
    fresh = Customer.get_by_id(customer.id)
    assert (fresh.owner_id, fresh.in_public_pool, fresh.pool_since) == (rep.id, False, None)
    assert fresh.claimed_at is not None
    expected = now() + timedelta(days=protection_days(fresh.channel, fresh.visit_type))
    assert abs(fresh.protected_until - expected) < timedelta(minutes=1)
    assert active_claims(rep) == 1
    [row] = audit("pool_claimed")
    assert (row.actor_id, row.customer_id, row.change_map) == (rep.id, customer.id, {"owner": rep.username})


def test_a_rep_claims_up_to_the_quota(make_user, make_customer):
    Setting.write("pool_quota", 2)
    rep = make_user("rep")
    first, second, third = (pooled(make_customer) for _ in range(3))
    claim(first, rep)
    claim(second, rep)
    with pytest.raises(OwnershipError) as refused:
        claim(third, rep)
    assert "2" in str(refused.value)
    assert Customer.get_by_id(third.id).in_public_pool
    # A claimed customer that lapses again goes back and frees the place.
    Customer.update(protected_until=now() - timedelta(hours=1)).where(Customer.id == first.id).execute()
    release_lapsed()
    assert active_claims(rep) == 1
    claim(third, rep)
    assert Customer.get_by_id(third.id).owner_id == rep.id


def test_the_desk_take_is_a_claim_and_counts_against_the_quota(make_user, make_customer):
    Setting.write("pool_quota", 1)
    rep = make_user("rep")
    walked_in, other = pooled(make_customer), pooled(make_customer)
    take_from_pool(walked_in, rep, "call")
    fresh = Customer.get_by_id(walked_in.id)
    assert fresh.claimed_at is not None and fresh.last_activity_at >= fresh.claimed_at
    assert audit("pool_taken")[0].customer_id == walked_in.id
    with pytest.raises(OwnershipError):
        take_from_pool(other, rep, "visit")


def test_of_two_claims_for_the_same_customer_one_wins(make_user, make_customer):
    first_rep, second_rep = make_user("rep"), make_user("rep")
    customer = pooled(make_customer)
    stale = Customer.get_by_id(customer.id)
    claim(customer, first_rep)
    with pytest.raises(OwnershipError) as refused:
        claim(stale, second_rep)
    assert "no longer in the public pool" in str(refused.value)
    assert Customer.get_by_id(customer.id).owner_id == first_rep.id
    assert len(audit("pool_claimed")) == 1


def test_reps_racing_for_one_customer_get_one_winner(make_user, make_customer):
    reps = [make_user("rep") for _ in range(6)]
    customer_id = pooled(make_customer).id
    start = Barrier(len(reps))

    def race(rep):
        try:
            customer = Customer.get_by_id(customer_id)
            start.wait()
            claim(customer, rep)
            return rep.id
        except OwnershipError:
            return None
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=len(reps)) as pool:
        winners = [rep_id for rep_id in pool.map(race, reps) if rep_id]
    assert len(winners) == 1
    assert Customer.get_by_id(customer_id).owner_id == winners[0]
    assert len(audit("pool_claimed")) == 1


# ---- Reassigning ----


def test_reassign_needs_a_managed_active_rep_and_a_reason(make_user, make_customer):
    manager, other_manager = make_user("manager"), make_user("manager")
    owner = make_user("rep", manager=manager, username="amy")
    colleague = make_user("rep", manager=manager, username="bob")
    outsider = make_user("rep", manager=other_manager)
    retired = make_user("rep", manager=manager, active=False)
    customer = make_customer(owner=owner, claimed_at=now())
    for new_owner, reason in (
        (colleague, " "),
        (outsider, "x"),
        (retired, "x"),
        (manager, "x"),
        (owner, "x"),
    ):
        with pytest.raises(OwnershipError):
            reassign(customer, manager, new_owner, reason)
    with pytest.raises(OwnershipError):
        reassign(customer, other_manager, outsider, "x")
    reassign(customer, manager, colleague, "amy is on leave")
    fresh = Customer.get_by_id(customer.id)
    assert (fresh.owner_id, fresh.claimed_at) == (colleague.id, None)
    assert fresh.protected_until > now() + timedelta(days=1)
    [row] = audit("reassigned")
    assert row.change_map == {"from": "amy", "to": "bob", "reason": "amy is on leave"}
    assert row.actor_id == manager.id


def test_manager_reassigns_over_http(make_user, login, make_customer):
    manager = make_user("manager")
    owner, colleague = make_user("rep", manager=manager), make_user("rep", manager=manager)
    customer = make_customer(owner=owner)
    boss = login(manager)
    missing = boss.post(f"/customers/{customer.id}/reassign", {"owner_id": colleague.id}, htmx=True)
    assert missing.status_code == 422
    fragment = missing.get_data(as_text=True)
    assert "<html" not in fragment and 'data-testid="reassign-form"' in fragment
    assert 'data-testid="error-reason"' in fragment
    bad_owner = boss.post(
        f"/customers/{customer.id}/reassign", {"owner_id": "999999", "reason": "x"}, htmx=True
    )
    assert bad_owner.status_code == 422 and 'data-testid="error-owner_id"' in bad_owner.get_data(as_text=True)
    plain = boss.post(f"/customers/{customer.id}/reassign", {"owner_id": colleague.id})
    assert (plain.status_code, plain.headers["Location"]) == (303, f"/customers/{customer.id}")
    assert Customer.get_by_id(customer.id).owner_id == owner.id

    done = boss.post(f"/customers/{customer.id}/reassign", {"owner_id": colleague.id, "reason": "休假"})
    assert (done.status_code, done.headers["Location"]) == (303, f"/customers/{customer.id}")
    assert Customer.get_by_id(customer.id).owner_id == colleague.id
    assert audit("reassigned")[0].change_map["reason"] == "休假"


def test_reassign_answers_htmx_with_a_redirect_header(make_user, login, make_customer):
    manager = make_user("manager")
    customer = make_customer(owner=make_user("rep", manager=manager))
    colleague = make_user("rep", manager=manager)
    response = login(manager).post(
        f"/customers/{customer.id}/reassign", {"owner_id": colleague.id, "reason": "x"}, htmx=True
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/customers/{customer.id}"


def test_another_teams_manager_and_reps_cannot_reassign(make_user, login, login_as, make_customer):
    manager = make_user("manager")
    owner, colleague = make_user("rep", manager=manager), make_user("rep", manager=manager)
    customer = make_customer(owner=owner)
    data = {"owner_id": colleague.id, "reason": "x"}
    assert login(make_user("manager")).post(f"/customers/{customer.id}/reassign", data).status_code == 403
    assert login(owner).post(f"/customers/{customer.id}/reassign", data).status_code == 403
    assert Customer.get_by_id(customer.id).owner_id == owner.id
    assert audit("reassigned") == []


def test_reassign_form_offers_the_managers_reps(login, make_user, make_customer):
    manager, other_manager = make_user("manager"), make_user("manager")
    owner = make_user("rep", manager=manager, display_name="李娜")
    make_user("rep", manager=manager, display_name="张伟")
    make_user("rep", manager=other_manager, display_name="王芳")
    make_user("rep", display_name="赵强")  # no manager: every manager's
    customer = make_customer(owner=owner)
    session = login(manager)
    assert 'data-testid="reassign"' in session.get(f"/customers/{customer.id}").get_data(as_text=True)
    # The form loads when the section is opened.
    form = session.htmx_get(f"/customers/{customer.id}/reassign").get_data(as_text=True)
    assert 'data-testid="reassign-form"' in form and 'name="csrf_token"' in form and "<html" not in form
    assert "张伟" in form and "赵强" in form
    assert "王芳" not in form and "李娜" not in form
    for outsider in (owner, other_manager, make_user("auditor")):
        session = login(outsider)
        assert 'data-testid="reassign"' not in session.get(f"/customers/{customer.id}").get_data(as_text=True)
        assert session.htmx_get(f"/customers/{customer.id}/reassign").status_code == 403


# ---- The pool page ----


def test_pool_page_masks_names_and_phones_and_shows_the_quota(make_user, login, make_customer):
    Setting.write("pool_quota", 3)
    rep = make_user("rep")
    customer = pooled(make_customer, name="欧阳明月", phone="13912345678")
    claim(pooled(make_customer), rep)
    page = login(rep).get("/pool/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-testid="pool-row-{customer.id}"' in html
    assert "欧***" in html and "欧阳明月" not in html
    assert "139****5678" in html and "13912345678" not in html and "139 1234 5678" not in html
    quota = html[html.index('data-testid="pool-quota"') :].split("</p>")[0]
    assert "1" in quota and "3" in quota
    assert f'data-testid="claim-{customer.id}"' in html


def test_pool_page_pages_newest_in_pool_first(make_user, login, make_customer):
    legacy = make_customer(owner=None, in_public_pool=True)  # pooled before pool_since was kept
    customers = [pooled(make_customer, days_ago=30 - i) for i in range(27)]
    newest_first = [c.id for c in reversed(customers)] + [legacy.id]
    session = login(make_user("manager"))
    first = session.get("/pool/").get_data(as_text=True)
    shown = [cid for cid in newest_first if f'data-testid="pool-row-{cid}"' in first]
    assert shown == newest_first[:25]
    assert first.index(f"pool-row-{newest_first[0]}") < first.index(f"pool-row-{newest_first[1]}")
    link = first[first.index('data-testid="pool-more"') - 200 :]
    href = link[link.index('href="') + 6 :].split('"')[0].replace("&amp;", "&")
    second = session.get(href).get_data(as_text=True)
    assert [cid for cid in newest_first if f'data-testid="pool-row-{cid}"' in second] == newest_first[25:]
    assert 'data-testid="pool-more"' not in second
    assert session.get("/pool/?before=garbage").status_code == 200


def test_rep_claims_over_http_and_is_refused_at_the_quota(make_user, login, make_customer):
    Setting.write("pool_quota", 1)
    session = login(make_user("rep"))
    first, second = pooled(make_customer, name="赵钱"), pooled(make_customer)
    response = session.post(f"/pool/{first.id}/claim")
    assert (response.status_code, response.headers["Location"]) == (303, f"/customers/{first.id}")
    assert Customer.get_by_id(first.id).owner_id == session.user.id
    refused = session.post(f"/pool/{second.id}/claim")
    # Refused on the customer's row, on the pool page itself.
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    row = html[html.index(f'data-testid="pool-row-{second.id}"') :]
    assert 'data-testid="claim-refused"' in row[: row.index("</tr>")]
    page = session.get("/pool/").get_data(as_text=True)
    assert f'data-testid="claim-{second.id}"' not in page  # at the quota: no claim buttons
    assert Customer.get_by_id(second.id).in_public_pool
    gone = session.post(f"/pool/{first.id}/claim")
    assert gone.status_code == 422 and 'data-testid="claim-refused"' in gone.get_data(as_text=True)


def test_manager_releases_lapsed_customers_now(make_user, login, make_customer):
    manager = make_user("manager")
    rep = make_user("rep", manager=manager)
    customer = lapsed(make_customer, rep)
    session = login(manager)
    page = session.get("/pool/").get_data(as_text=True)
    assert 'data-testid="release-lapsed"' in page
    response = session.post("/pool/release", follow_redirects=True)
    assert response.status_code == 200
    assert f'data-testid="pool-row-{customer.id}"' in response.get_data(as_text=True)
    assert audit("released_to_pool")[0].actor_id == manager.id


@pytest.mark.parametrize("role", ["reception", "auditor", "admin"])
def test_other_roles_cannot_open_the_pool(login_as, role):
    session = login_as(role)
    assert session.get("/pool/").status_code == 403
    assert "/pool/" not in session.get("/").get_data(as_text=True)


def test_only_reps_claim_and_only_managers_release(login_as, make_customer):
    customer = pooled(make_customer)
    assert login_as("manager").post(f"/pool/{customer.id}/claim").status_code == 403
    assert login_as("rep").post("/pool/release").status_code == 403
    assert login_as("rep").post("/pool/999999/claim").status_code == 404
    assert Customer.get_by_id(customer.id).in_public_pool


def test_reps_see_the_pool_in_the_menu(login_as):
    assert 'href="/pool/"' in login_as("rep").get("/").get_data(as_text=True)


# ---- villa daily ----


def test_daily_releases_lapsed_customers(runner, make_user, make_customer):
    customer = lapsed(make_customer, make_user("rep"))
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    assert "released 1 customers to the public pool" in result.output.splitlines()
    assert Customer.get_by_id(customer.id).in_public_pool
    assert "released 0 customers to the public pool" in runner.invoke(args=["daily"]).output.splitlines()


def test_daily_over_the_command_line(tmp_path, cli_instance):
    result = run_villa(tmp_path, "daily")
    assert result.returncode == 0, result.stderr
    assert "released 0 customers to the public pool" in result.stdout
