"""Handover (离职交接): a leaving rep's customers, and a manager's selection, move in one audited step."""

import pytest

from villa import handover
from villa.models import AuditLog, Customer, User, now


@pytest.fixture
def admin(login_as):
    session = login_as("admin", username="boss")
    session.get("/lang/en")
    return session


@pytest.fixture
def team(make_user):
    manager = make_user("manager", username="wang", display_name="王经理")
    return {
        "manager": manager,
        "leaving": make_user("rep", username="sunlei", manager=manager, display_name="孙磊"),
        "lina": make_user("rep", username="lina", manager=manager, display_name="李娜"),
        "zhang": make_user("rep", username="zhang", manager=manager, display_name="张伟"),
        "other": make_user("rep", username="chen", display_name="陈静", manager=make_user("manager")),
    }


def owned(team, make_customer, count=5, who="leaving"):
    return [make_customer(owner=team[who], name=f"客户{chr(0x4E00 + n)}") for n in range(count)]


def owners(customers) -> list:
    return [Customer.get_by_id(c.id).owner_id for c in customers]


def test_disabling_a_rep_with_customers_asks_where_they_go(admin, team, make_customer):
    owned(team, make_customer, 3)
    page = admin.get(f"/admin/users/{team['leaving'].id}").get_data(as_text=True)
    assert 'data-testid="handover"' in page and "3 customers still belong to 孙磊" in page
    assert "李娜" in page and "张伟" in page  # the rest of the team
    response = admin.post(f"/admin/users/{team['leaving'].id}/disable")
    assert response.status_code == 422
    assert 'data-testid="error-destination"' in response.get_data(as_text=True)
    assert User.get_by_id(team["leaving"].id).active is True
    assert AuditLog.select().where(AuditLog.action == "user_disabled").count() == 0


def test_a_rep_without_customers_is_disabled_as_before(admin, team):
    page = admin.get(f"/admin/users/{team['leaving'].id}").get_data(as_text=True)
    assert 'data-testid="handover"' not in page
    assert admin.post(f"/admin/users/{team['leaving'].id}/disable").status_code == 303
    assert User.get_by_id(team["leaving"].id).active is False


def test_handover_to_one_rep_disables_and_moves_in_one_audited_step(admin, team, make_customer, login):
    customers = owned(team, make_customer, 4)
    archived = make_customer(owner=team["leaving"], stage="signed", archived_at=now())
    response = admin.post(
        f"/admin/users/{team['leaving'].id}/handover", {"destination": "rep", "to_rep": team["lina"].id}
    )
    assert response.status_code == 303
    assert User.get_by_id(team["leaving"].id).active is False
    assert owners(customers) == [team["lina"].id] * 4
    assert owners([archived]) == [team["leaving"].id]  # a signed, archived sale keeps its rep
    fresh = Customer.get_by_id(customers[0].id)
    assert fresh.protected_until > now() and not fresh.in_public_pool
    summary = AuditLog.get(AuditLog.action == "customers_handed_over")
    assert summary.target == f"user:{team['leaving'].id}" and summary.actor_id == admin.user.id
    assert summary.change_map == {
        "from": "sunlei",
        "destination": "rep",
        "count": 4,
        "given": [["lina", 4]],
    }
    entries = AuditLog.select().where(AuditLog.action == "handed_over")
    assert sorted(e.customer_id for e in entries) == sorted(c.id for c in customers)
    assert AuditLog.select().where(AuditLog.action == "user_disabled").count() == 1
    page = login(team["lina"]).get(f"/customers/{customers[0].id}").get_data(as_text=True)
    assert 'data-testid="event-handed_over"' in page


def test_handover_spread_evenly_over_the_team(admin, team, make_customer):
    customers = owned(team, make_customer, 5)
    response = admin.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "team"})
    assert response.status_code == 303
    got = owners(customers)
    assert sorted([got.count(team["lina"].id), got.count(team["zhang"].id)]) == [2, 3]
    assert team["other"].id not in got  # another team's rep gets none


def test_handover_to_the_pool(admin, team, make_customer):
    customers = owned(team, make_customer, 2)
    response = admin.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "pool"})
    assert response.status_code == 303
    for customer in customers:
        fresh = Customer.get_by_id(customer.id)
        assert (fresh.owner_id, fresh.in_public_pool) == (None, True) and fresh.pool_since


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({}, "destination", "Choose where the customers go"),
        ({"destination": "rep"}, "to_rep", "Choose an active sales rep"),
        ({"destination": "elsewhere"}, "destination", "Choose where the customers go"),
    ],
)
def test_a_refused_handover_says_why_and_moves_nothing(admin, team, make_customer, data, field, message):
    customers = owned(team, make_customer, 2)
    response = admin.post(f"/admin/users/{team['leaving'].id}/handover", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'data-testid="error-{field}"' in html and message in html
    assert owners(customers) == [team["leaving"].id] * 2
    assert User.get_by_id(team["leaving"].id).active is True


def test_spreading_over_a_team_of_one_is_refused(admin, make_user, make_customer):
    manager = make_user("manager")
    alone = make_user("rep", manager=manager)
    make_customer(owner=alone)
    response = admin.post(f"/admin/users/{alone.id}/handover", {"destination": "team"})
    assert response.status_code == 422 and "no other active sales rep" in response.get_data(as_text=True)
    assert User.get_by_id(alone.id).active is True


def test_a_disabled_rep_with_customers_left_can_still_hand_them_over(admin, team, make_customer):
    customers = owned(team, make_customer, 2)
    User.update(active=False).where(User.id == team["leaving"].id).execute()
    page = admin.get(f"/admin/users/{team['leaving'].id}").get_data(as_text=True)
    assert 'data-testid="handover"' in page and "Hand over the customers" in page
    response = admin.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "pool"})
    assert response.status_code == 303
    assert owners(customers) == [None, None]


def test_a_failure_in_the_middle_leaves_nothing_half_written(admin, team, make_customer, monkeypatch):
    customers = owned(team, make_customer, 5)
    monkeypatch.setattr(handover, "CHUNK", 2)
    real, calls = handover._move_chunk, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(handover, "_move_chunk", failing)
    response = admin.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "team"})
    assert response.status_code == 500
    assert len(calls) == 2  # the first chunk was written before the failure
    assert owners(customers) == [team["leaving"].id] * 5
    assert User.get_by_id(team["leaving"].id).active is True
    moved = AuditLog.select().where(AuditLog.action.in_(["handed_over", "customers_handed_over"]))
    assert moved.count() == 0


def test_only_admins_hand_over(login_as, team):
    for role in ("rep", "manager", "auditor", "reception"):
        session = login_as(role)
        response = session.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "pool"})
        assert response.status_code == 403
    assert User.get_by_id(team["leaving"].id).active is True
