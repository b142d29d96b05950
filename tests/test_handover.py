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
    entries = list(AuditLog.select().where(AuditLog.action == "handed_over"))
    assert sorted(e.customer_id for e in entries) == sorted(c.id for c in customers)
    assert entries[0].change_map == {"from": "sunlei", "to": "lina"}
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


def test_a_failure_in_the_middle_of_a_managers_move_leaves_nothing_half_written(
    team, make_customer, login, monkeypatch
):
    customers = owned(team, make_customer, 5, who="lina")
    monkeypatch.setattr(handover, "CHUNK", 2)
    real, calls = handover._move_chunk, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(handover, "_move_chunk", failing)
    data = {"ids": [c.id for c in customers], "destination": "pool", "reason": "长期未跟进"}
    assert login(team["manager"]).post("/customers/transfer", data).status_code == 500
    assert len(calls) == 3
    assert owners(customers) == [team["lina"].id] * 5
    assert not Customer.select().where(Customer.in_public_pool == True).exists()  # noqa: E712
    assert AuditLog.select().where(AuditLog.action.in_(["transferred", "customers_handed_over"])).count() == 0


def test_only_admins_hand_over(login_as, team):
    for role in ("rep", "manager", "auditor", "reception"):
        session = login_as(role)
        response = session.post(f"/admin/users/{team['leaving'].id}/handover", {"destination": "pool"})
        assert response.status_code == 403
    assert User.get_by_id(team["leaving"].id).active is True


# A manager moves a selection from the customer list.


@pytest.fixture
def boss(team, login):
    session = login(team["manager"])
    session.get("/lang/en")
    return session


def test_the_list_offers_ticks_only_for_customers_the_manager_manages(boss, team, make_customer):
    mine = make_customer(owner=team["lina"], name="自己人")
    theirs = make_customer(owner=team["other"], name="别人的")
    html = boss.get("/customers/").get_data(as_text=True)
    assert 'data-testid="transfer"' in html
    assert f'name="ids" value="{mine.id}"' in html
    assert f'name="ids" value="{theirs.id}"' not in html


def test_a_manager_moves_ticked_customers_to_one_rep(boss, team, make_customer):
    customers = owned(team, make_customer, 3, who="lina")
    response = boss.post(
        "/customers/transfer",
        {
            "ids": [c.id for c in customers[:2]],
            "destination": "rep",
            "to_rep": team["zhang"].id,
            "reason": "调岗",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/customers/"
    assert owners(customers) == [team["zhang"].id, team["zhang"].id, team["lina"].id]
    entries = list(AuditLog.select().where(AuditLog.action == "transferred").order_by(AuditLog.customer))
    assert [e.change_map for e in entries] == [{"from": "lina", "to": "zhang", "reason": "调岗"}] * 2
    summary = AuditLog.get(AuditLog.action == "customers_handed_over")
    assert summary.actor_id == team["manager"].id and summary.change_map["count"] == 2


def test_a_manager_spreads_ticked_customers_over_the_team_or_pools_them(boss, team, make_customer):
    customers = owned(team, make_customer, 4)
    data = {"ids": [c.id for c in customers], "destination": "team", "reason": "均分"}
    assert boss.post("/customers/transfer", data).status_code == 303
    got = owners(customers)  # the team: 孙磊 (who had them), 李娜, 张伟, in turn by username
    assert set(got) <= {team["leaving"].id, team["lina"].id, team["zhang"].id}
    assert max(got.count(rep.id) for rep in (team["leaving"], team["lina"], team["zhang"])) == 2
    data = {"ids": [c.id for c in customers], "destination": "pool", "reason": "长期未跟进"}
    assert boss.post("/customers/transfer", data).status_code == 303
    assert owners(customers) == [None] * 4


def test_a_selection_with_a_customer_not_the_managers_moves_nothing(boss, team, make_customer):
    mine = make_customer(owner=team["lina"])
    theirs = make_customer(owner=team["other"])
    data = {"ids": [mine.id, theirs.id], "destination": "rep", "to_rep": team["zhang"].id, "reason": "调岗"}
    response = boss.post("/customers/transfer", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "1 of the ticked customers are not yours to manage" in html
    assert 'value="调岗"' in html and f'value="{mine.id}" form="customer-transfer"' in html
    assert owners([mine, theirs]) == [team["lina"].id, team["other"].id]
    assert AuditLog.select().where(AuditLog.action == "transferred").count() == 0


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"destination": "rep", "reason": "调岗"}, "to_rep", "Choose an active sales rep"),
        ({"destination": "pool"}, "reason", "Give the reason"),
        ({"destination": "pool", "reason": "x", "no_ids": True}, "destination", "Tick the customers"),
    ],
)
def test_a_refused_move_says_why_at_the_field(boss, team, make_customer, data, field, message):
    customer = make_customer(owner=team["lina"])
    posted = {k: v for k, v in data.items() if k != "no_ids"}
    if "no_ids" not in data:
        posted["ids"] = [customer.id]
    response = boss.post("/customers/transfer", posted)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html and message in html
    assert owners([customer]) == [team["lina"].id]


def test_a_rep_of_another_team_is_no_target(boss, team, make_customer):
    customer = make_customer(owner=team["lina"])
    data = {"ids": [customer.id], "destination": "rep", "to_rep": team["other"].id, "reason": "调岗"}
    response = boss.post("/customers/transfer", data)
    assert response.status_code == 422 and "You do not manage that sales rep" in response.get_data(
        as_text=True
    )
    assert owners([customer]) == [team["lina"].id]


@pytest.mark.parametrize("role", ["rep", "auditor", "admin", "reception"])
def test_only_managers_move_from_the_list(login_as, team, make_customer, role):
    customer = make_customer(owner=team["lina"])
    data = {"ids": [customer.id], "destination": "pool", "reason": "x"}
    assert login_as(role).post("/customers/transfer", data).status_code == 403
    assert owners([customer]) == [team["lina"].id]


# At the command line: `villa user disable` hands a rep's customers over too.


def test_the_command_line_refuses_to_strand_a_reps_customers(runner, team, make_customer):
    customers = owned(team, make_customer, 2)
    result = runner.invoke(args=["user", "disable", "sunlei"])
    assert result.exit_code == 1 and "still owns 2 customers" in result.output
    assert "Traceback" not in result.output
    assert User.get_by_id(team["leaving"].id).active is True
    result = runner.invoke(args=["user", "disable", "sunlei", "--customers-to", "lina"])
    assert result.exit_code == 0 and "2 customers handed over" in result.output
    assert owners(customers) == [team["lina"].id] * 2
    assert User.get_by_id(team["leaving"].id).active is False
    assert AuditLog.get(AuditLog.action == "customers_handed_over").actor_id is None


def test_the_command_line_says_why_a_handover_is_refused(runner, make_user, make_customer):
    alone = make_user("rep", manager=make_user("manager"), username="alone")
    make_customer(owner=alone)
    result = runner.invoke(args=["user", "disable", "alone", "--customers-to", "team"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert User.get_by_id(alone.id).active is True
