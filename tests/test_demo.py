import pytest

import villa
from villa import instance
from villa.auth import check_password
from villa.crypto import blind_index
from villa.db import db
from villa.demo import DEMO_PASSWORD, DEMO_USERS, DemoRefused, load_demo
from villa.identity import normalise_id_number, try_normalise_phone
from villa.models import (
    AccessLog,
    Agency,
    AuditLog,
    Broker,
    Customer,
    FollowUp,
    Incident,
    IncidentCustomer,
    JobRun,
    Material,
    OutboxMessage,
    PledgeAcceptance,
    PledgeText,
    Report,
    RotationEntry,
    RotationSkip,
    User,
    Visit,
)
from villa.users import create_user


@pytest.fixture
def demo_app(tmp_path):
    """A fresh instance (database, key file, default channels) of its own."""
    keys_file = str(tmp_path / "keys.json")
    app = villa.create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/villa.db",
            "KEYS_FILE": keys_file,
            "SECRET_KEY": "test",
            "TESTING": True,
        },
        check_keys=False,
    )
    with app.app_context():
        instance.initialise(keys_file)
        yield app
        if not db.is_closed():
            db.close()


@pytest.fixture
def loaded(demo_app):
    """The demo logins, with 40 customers loaded."""
    return load_demo(40)


def test_logins_are_every_demo_user_in_order(loaded):
    assert loaded == [(username, DEMO_PASSWORD, role) for username, _, role, _ in DEMO_USERS]


def test_users_have_roles_managers_and_a_final_password(loaded):
    users = {u.username: u for u in User.select() if u.username != "rep5"}  # rep5 left: below
    assert len(users) == 10
    for username, name, role, _ in DEMO_USERS:
        user = users[username]
        assert (user.display_name, user.role, user.is_demo) == (name, role, True)
        assert not user.must_change_password
    managers = {u.username: u.manager.username if u.manager else None for u in users.values()}
    assert managers == {
        **dict.fromkeys(("reception", "manager", "manager2", "auditor", "admin", "rep4", "broker1")),
        "rep": "manager",
        "rep2": "manager",
        "rep3": "manager2",
    }
    assert check_password(users["rep"], DEMO_PASSWORD)


def test_customers_have_valid_unique_phones_with_matching_index(loaded):
    customers = list(Customer.select())
    assert len(customers) == 40
    assert all(c.is_demo for c in customers)
    phones = [c.phone for c in customers]
    assert len(set(phones)) == len(phones)
    assert "+8613800138000" not in phones
    for c in customers:
        assert c.phone.startswith("+861") and len(c.phone) == 14
        assert try_normalise_phone(c.phone) == c.phone
        assert c.phone_index == blind_index("phone", c.phone)
        if c.alt_phone:
            assert c.alt_phone_index == blind_index("phone", c.alt_phone)


def test_id_numbers_are_valid_where_present(loaded):
    with_id = [c for c in Customer.select() if c.id_number]
    assert with_id, "about 30% should carry an ID number"
    for c in with_id:
        assert normalise_id_number(c.id_number) == c.id_number
        assert c.id_index == blind_index("id", c.id_number)
        assert c.sensitive_consent_at is not None


def test_customers_are_owned_or_pooled_and_consented(loaded):
    for c in Customer.select():
        assert (c.owner_id is None) == c.in_public_pool
        assert c.owner is None or c.owner.role == "rep"
        assert c.consent_at == c.registered_at and c.notice_version == "2026-11"
        assert c.protected_until > c.registered_at
        assert c.last_activity_at >= c.registered_at


def test_owned_customers_have_their_owners_followups_up_to_their_last_activity(loaded):
    owned = list(Customer.select().where(Customer.owner.is_null(False)))
    leaver = User.by_username("rep5")
    handed_over = {
        e.customer_id: {leaver.id} for e in AuditLog.select().where(AuditLog.action == "handed_over")
    }
    with_followups = 0
    for c in owned:
        entries = list(c.followups.order_by(FollowUp.created_at))
        if not entries:
            assert c.first_followup_at is None
            continue
        with_followups += 1
        # A customer handed over when their rep left keeps that rep's follow-ups.
        assert {e.author_id for e in entries} <= {c.owner_id, *handed_over.get(c.id, ())}
        assert c.registered_at <= entries[0].created_at and entries[-1].created_at <= c.last_activity_at
        assert c.first_followup_at == entries[0].created_at
        assert entries[-1].next_at == c.next_followup_on  # the latest carries the customer's next date
        for earlier, later in zip(entries, entries[1:], strict=False):
            if earlier.next_at:
                assert earlier.next_done_at == later.created_at
    assert with_followups > len(owned) // 2
    assert not FollowUp.select().join(Customer).where(Customer.owner.is_null()).exists()
    added = AuditLog.select().where(AuditLog.action == "followup_added").count()
    assert added == FollowUp.select().count()


def test_the_same_seed_gives_the_same_customers(demo_app):
    load_demo(15)
    first = [(c.name, c.phone) for c in Customer.select().order_by(Customer.id)]
    User.update(manager=None).execute()
    for model in (JobRun, IncidentCustomer, Incident, OutboxMessage, AccessLog, PledgeAcceptance, PledgeText,
                  RotationSkip, Visit, RotationEntry, Material, AuditLog, Report, Broker, Agency, Customer,
                  User):  # fmt: skip
        model.delete().execute()
    load_demo(15)
    assert [(c.name, c.phone) for c in Customer.select().order_by(Customer.id)] == first


def test_a_second_load_is_refused(loaded):
    with pytest.raises(DemoRefused, match="already loaded"):
        load_demo(5)
    assert Customer.select().count() == 40


def test_if_empty_after_a_load_does_nothing(loaded):
    assert load_demo(5, if_empty=True) == []
    assert Customer.select().count() == 40


def test_a_database_with_a_real_user_is_refused(demo_app):
    create_user("boss", "admin", password="a-long-password-123", must_change=False)
    with pytest.raises(DemoRefused, match="real"):
        load_demo(5)
    assert load_demo(5, if_empty=True) == []
    assert User.select().count() == 1 and Customer.select().count() == 0


def test_cli_if_empty_exits_zero_when_loaded(demo_app):
    runner = demo_app.test_cli_runner()
    result = runner.invoke(args=["demo", "--customers", "3"])
    assert result.exit_code == 0 and "rep4" in result.output
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0 and "demo data already loaded" in result.output
    assert Customer.select().count() == 3


def test_the_demo_shows_a_finished_and_a_failed_nightly_run(loaded):
    runs = list(JobRun.select().where(JobRun.name == "daily").order_by(JobRun.started_at))
    assert [run.outcome for run in runs] == ["failed", "ok"]
    failed = JobRun.get(JobRun.run == runs[0], JobRun.outcome == "failed")
    assert failed.name == "backup" and "No space left" in failed.error
    done = {step.name: step for step in JobRun.select().where(JobRun.run == runs[1])}
    assert all(step.outcome == "ok" for step in done.values()) and {"backup", "restore_test"} <= set(done)
    assert done["backup"].count_map["customers"] == 40, "a real backup of the demo data"


def test_the_demo_has_one_closed_incident_with_its_customers_told(loaded):
    (incident,) = Incident.select()
    assert incident.closed_at and incident.measures and incident.reported_to and incident.responsible
    told = list(IncidentCustomer.select().where(IncidentCustomer.incident == incident))
    assert told and all(entry.message.status == "sent" for entry in told)
    assert incident.found_at < incident.opened_at < incident.closed_at


def test_every_demo_user_accepted_the_rules_so_the_logins_go_straight_in(loaded, demo_app):
    (rules,) = PledgeText.select()
    accepted = {a.user.username for a in PledgeAcceptance.select().where(PledgeAcceptance.pledge == rules)}
    assert accepted == {username for username, *_ in DEMO_USERS}
    client = demo_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post("/login", data={"username": "rep", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/").status_code == 200


def test_demo_shows_deals_confirmed_waiting_and_cancelled(demo_app):
    from villa.models import Deal

    load_demo(120)
    deals = list(Deal.select().order_by(Deal.id))
    statuses = [d.status for d in deals]
    assert statuses.count("pending") == 1 and statuses.count("cancelled") == 1
    assert statuses.count("confirmed") >= 3
    # Every customer at 认筹, 认购 or 签约 has its confirmed deal; the waiting one has not moved yet.
    at_stage = Customer.select().where(Customer.stage.in_(("pledged", "subscribed", "signed")))
    confirmed = {(d.customer_id, d.stage) for d in deals if d.status == "confirmed"}
    assert {(c.id, c.stage) for c in at_stage} == confirmed
    waiting = next(d for d in deals if d.status == "pending")
    assert waiting.customer.stage == "visited" and waiting.stage == "signed"
    assert all(d.price > 0 and d.unit_number for d in deals)
    actions = {e.action for e in AuditLog.select().where(AuditLog.action.startswith("deal_"))}
    assert actions == {"deal_recorded", "deal_confirmed", "deal_cancelled"}


def test_demo_deals_are_the_same_every_run(tmp_path_factory):
    from villa.models import Deal

    runs = []
    for n in range(2):
        path = tmp_path_factory.mktemp(f"demo{n}")
        keys_file = str(path / "keys.json")
        app = villa.create_app(
            {
                "INSTANCE_PATH": str(path),
                "DATABASE_URL": f"sqlite:///{path}/villa.db",
                "KEYS_FILE": keys_file,
                "SECRET_KEY": "test",
                "TESTING": True,
            },
            check_keys=False,
        )
        with app.app_context():
            instance.initialise(keys_file)
            load_demo(60)
            rows = Deal.select(Deal.customer, Deal.stage, Deal.unit_number, Deal.price, Deal.status)
            runs.append(list(rows.order_by(Deal.id).tuples()))
            db.close()
    assert runs[0] == runs[1] and runs[0]


def test_the_demo_has_walk_ins_given_out_of_turn_with_their_reasons(loaded):
    from villa.rotation_skips import skip_report

    skips = {(s.given_to.username, s.skipped.username, s.reason) for s in RotationSkip.select()}
    assert ("rep3", "rep", "customer_choice") in skips
    assert {s.reason for s in RotationSkip.select()} <= {"customer_choice", "referral", "language", "other"}
    assert skip_report().total == RotationSkip.select().count() >= 1


def test_a_rep_who_left_and_whose_customers_moved(loaded):
    leaver = User.by_username("rep5")
    assert (leaver.display_name, leaver.role, leaver.active, leaver.manager.username) == (
        "孙磊",
        "rep",
        False,
        "manager",
    )
    assert "rep5" not in [username for username, *_ in loaded]  # disabled: not a demo login
    assert not Customer.select().where(Customer.owner == leaver).exists()
    moved = list(AuditLog.select().where(AuditLog.action == "handed_over"))
    assert moved, "some customers were the leaver's"
    new_owners = {Customer.get_by_id(e.customer_id).owner.username for e in moved}
    assert new_owners <= {"rep", "rep2"}
    summary = AuditLog.get(AuditLog.action == "customers_handed_over")
    assert summary.target == f"user:{leaver.id}" and summary.change_map["count"] == len(moved)
    assert summary.actor.username == "admin"


def test_agencies_brokers_and_reports_in_every_state(loaded):
    from villa.reports import shown_status

    assert sorted(a.name for a in Agency.select()) == ["中原地产", "链家"]
    login = Broker.get(Broker.user == User.get(User.username == "broker1").id)
    assert (login.agency.name, login.name, login.active) == ("链家", "周强", True)
    assert Broker.select().count() == 3 and all(b.phone and b.phone_index for b in Broker.select())
    states = {}
    for report in Report.select():
        stage = report.customer.stage if report.customer_id else None
        states.setdefault(shown_status(report, stage), []).append(report)
    assert set(states) == {"open", "confirmed", "expired", "dealt"}, sorted(states)
    for report in states["confirmed"] + states["dealt"]:
        assert report.customer.registered_at == report.confirmed_at > report.reported_at
        assert report.customer.broker_agency == report.agency.name
    assert all(r.open_key for r in states["open"]) and not any(r.open_key for r in states["expired"])
    assert any(r.broker_id == login.id for r in Report.select())
