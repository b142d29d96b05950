"""The daily summary tables give every figure of the dashboard, the ranking and a scorecard exactly
as counting the rows does (tests/live_figures.py: the computation before migration 0021).

The office is the demo's (several channels, reps, stages and grades, reviews, deals, a rep who
left), then edited through the app's own functions the way an office does over weeks: stage
changes (lost from every stage, back again, lost again), grade changes, follow-ups, reviews,
deals confirmed and cancelled, reassignment, the pool, a channel correction, a merge and its undo,
an erasure, a deleted customer, and rows dated in the past.
"""

import re
from datetime import date, timedelta

import pytest

from tests import live_figures as live
from villa import analytics, deals, duplicates, ownership, profile, retention, review, scorecard
from villa.analytics import Period, period_for
from villa.db import db, is_sqlite
from villa.demo import DEMO_PASSWORD, load_demo
from villa.followups import add_followup, refresh_followup_times
from villa.models import (
    AuditLog,
    Customer,
    DailyCustomerMix,
    DailyFollowUpsDue,
    DailyGradeMoves,
    DailyOwnerRegistrations,
    DailyPool,
    DailyRegistrations,
    DailyReviews,
    DailyVisits,
    Deal,
    FollowUp,
    Review,
    User,
    Visit,
    now,
    office_today,
)
from villa.registration import log_return_visit
from villa.source_correction import correct_source
from villa.web.analytics import routes as analytics_routes
from villa.web.analytics.tables import dashboard_tables, reps_table

# A CSRF token (itsdangerous: value.timestamp.signature) changes from one second to the next.
CSRF = re.compile(r"[\w-]{20,}\.[\w-]{6}\.[\w-]{20,}")

SUMMARIES = (
    DailyRegistrations,
    DailyCustomerMix,
    DailyOwnerRegistrations,
    DailyReviews,
    DailyFollowUpsDue,
    DailyVisits,
    DailyPool,
    DailyGradeMoves,
)
LIVE = {
    "registrations": live.registrations,
    "customer_mix": live.customer_mix,
    "stage_reach": live.stage_reach,
    "visits": live.visits,
    "grade_mix": live.grade_mix,
    "public_pool": live.public_pool,
}


def periods() -> list[Period]:
    today = office_today()
    return [
        period_for("month"),
        period_for("week"),
        period_for("90d"),
        Period(today - timedelta(days=200), today - timedelta(days=20)),  # a custom range
        Period(today - timedelta(days=365), today),
    ]


def live_dashboard(period, monkeypatch) -> dict:
    with monkeypatch.context() as patch:
        for name, function in LIVE.items():
            patch.setattr(analytics, name, function)
        return dashboard_tables(period)


def all_reps():
    return list(User.select().where(User.role == "rep").order_by(User.id))


def assert_figures_equal_the_live_ones(monkeypatch):
    reps = all_reps()
    for period in periods():
        for name, function in LIVE.items():
            assert getattr(analytics, name)(period) == function(period), (name, period)
        assert analytics.reach_by_owner(period, [r.id for r in reps]) == live.reach_by_owner(
            period, [r.id for r in reps]
        ), period
        assert dashboard_tables(period) == live_dashboard(period, monkeypatch), period
        summed, counted = scorecard.scores(period, reps), live.scores(period, reps)
        assert summed == counted, period
        assert reps_table(summed) == reps_table(counted)
        for rep in reps:  # each card alone
            assert scorecard.scores(period, [rep]) == live.scores(period, [rep]), (rep.username, period)


NO_DEAL = Customer.id.not_in(Deal.select(Deal.customer))


def user(username) -> User:
    return User.get(User.username == username)


def customers(*conditions, limit=None):
    query = Customer.select().where(Customer.anonymised_at.is_null(), *conditions).order_by(Customer.id)
    return list(query.limit(limit) if limit else query)


def deal_values(**overrides):
    values = {
        "unit_number": "A区8号",
        "area": "286.5",
        "price": "1280万",
        "deal_date": office_today().isoformat(),
        "payment": "mortgage",
    }
    return {**values, **overrides}


@pytest.fixture
def office(app):
    load_demo(240)
    return {name: user(name) for name in ("manager", "manager2", "rep", "rep2", "rep3", "rep4", "admin")}


def edit_like_an_office(users):
    """Weeks of an office's writes, through the app's functions (and a few rows dated in the past)."""
    manager, admin = users["manager"], users["admin"]
    # Stages: lost from registered, visited and pledged; one comes back and is lost again.
    for stage in ("registered", "visited", "pledged"):
        for customer in customers(Customer.stage == stage, Customer.owner.is_null(False), NO_DEAL, limit=3):
            profile.change_stage(customer, admin, "lost", "预算不足")
    back = customers(Customer.stage == "lost", limit=2)
    for customer in back:
        profile.change_stage(customer, admin, "visited")
    profile.change_stage(Customer.get_by_id(back[0].id), admin, "lost", "选择了竞品项目")
    # Deals: a pledge and a subscription confirmed, a confirmed one cancelled (back to visited).
    team = Customer.owner.in_(User.select(User.id).where(User.manager == manager))
    visited = customers(Customer.stage == "visited", team, NO_DEAL, limit=6)
    deals.record_deal(visited[0], manager, "pledged", deal_values())
    deals.record_deal(visited[1], manager, "subscribed", deal_values(unit_number="B区2号"))
    cancelled = deals.record_deal(visited[2], manager, "signed", deal_values(unit_number="C区3号"))
    deals.cancel_deal(cancelled, manager, "客户退房")
    # Lost after a deal, by an older path (the stage set and its audit row written by hand): with
    # the app a deal is cancelled first, which takes the customer back to visited.
    lost_later = []
    for left in ("pledged", "subscribed", "signed"):
        customer = customers(Customer.stage == left, Customer.owner.is_null(False))[0]
        Customer.update(stage="lost").where(Customer.id == customer.id).execute()
        AuditLog.on_customer(customer, admin, "stage_changed", {"stage": [left, "lost"]})
        lost_later.append(customer)
    # Grades and follow-ups: a grade change, next dates due in the past and the future.
    yesterday = office_today() - timedelta(days=1)
    for n, customer in enumerate(
        customers(Customer.owner.is_null(False), Customer.stage != "lost", limit=12)
    ):
        author = customer.owner
        next_at = office_today() + timedelta(days=n % 3) if n % 2 else None
        add_followup(
            customer,
            author,
            "call",
            "电话沟通",
            reached=bool(n % 3),
            next_at=next_at,
            grade="B" if n % 4 else None,
        )
    # Follow-ups written weeks ago (an import of old notes), some with a due date already passed.
    for n, customer in enumerate(customers(Customer.owner.is_null(False), limit=8)):
        written = now() - timedelta(days=20 + n * 9)
        FollowUp.create(
            customer=customer, author=customer.owner, kind="visit", content="旧记录", created_at=written,
            next_at=(written + timedelta(days=n % 5)).date() if n % 3 else yesterday,
        )  # fmt: skip
        refresh_followup_times([customer.id])
    # Reviews: first-level decisions by the team's manager.
    for customer in customers(Customer.review_status == "pending_first", limit=30):
        if review.may_review(manager, customer):
            if customer.id % 3:
                review.approve(customer, manager)
            else:
                review.reject(customer, manager, "信息不完整")
    # Ownership: reassignment of reviewed customers, the pool's releases and a claim.
    reviewed = customers(
        Customer.id.in_(Review.select(Review.customer)), Customer.owner.is_null(False), limit=3
    )
    for customer in reviewed:
        if ownership.reassignable_reps(manager) and customer.owner.manager_id == manager.id:
            others = [r for r in ownership.reassignable_reps(manager) if r.id != customer.owner_id]
            if others:
                ownership.reassign(customer, manager, others[0], "调整分工")
    ownership.release_lapsed(now() + timedelta(days=30))
    pooled = customers(Customer.in_public_pool == True, limit=2)  # noqa: E712
    for customer in pooled:
        ownership.claim(customer, users["rep4"])
    # Second-level decisions after the ownership moves, then some decisions dated weeks back.
    auditor = user("auditor")
    for customer in customers(Customer.review_status == "pending_second", limit=10):
        if review.may_review(auditor, customer):
            review.approve(customer, auditor) if customer.id % 2 else review.reject(
                customer, auditor, "资料不符"
            )
    for n, decision in enumerate(Review.select().order_by(Review.id).limit(8)):
        Review.update(at=decision.at - timedelta(days=15 + 11 * n)).where(Review.id == decision.id).execute()
    # A channel correction, a visit type correction and return visits.
    walk_in = customers(Customer.visit_type == "visit", limit=2)
    other = "online_ad" if walk_in[0].channel.code != "online_ad" else "walk_in"
    correct_source(walk_in[0], auditor, "channel", other, "登记错渠道")
    correct_source(walk_in[1], auditor, "visit_type", "call", "其实是来电")
    for customer in customers(Customer.owner.is_null(False), limit=4):
        log_return_visit(customer, user("reception"))
    # Registrations dated in the past: moved back a week, two months, a year.
    for customer, days in zip(customers(limit=3), (7, 60, 300), strict=True):
        Customer.update(registered_at=customer.registered_at - timedelta(days=days)).where(
            Customer.id == customer.id
        ).execute()
    for visit in Visit.select().order_by(Visit.id).limit(5):
        Visit.update(at=visit.at - timedelta(days=45)).where(Visit.id == visit.id).execute()
    for action in ("grade_changed", "released_to_pool", "pool_claimed"):
        for n, entry in enumerate(
            AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id).limit(3)
        ):
            AuditLog.update(at=entry.at - timedelta(days=20 + 13 * n)).where(
                AuditLog.id == entry.id
            ).execute()
    # A merge (the absorbed record's stage, owner and rows move to the survivor), another undone.
    owned = customers(Customer.owner.is_null(False), Customer.stage != "signed")
    # The survivor takes the stage lost and the audit rows that say it left at signing.
    survivor, absorbed = owned[-1], lost_later[-1]
    duplicates.merge(
        survivor, absorbed, {"stage": "absorbed", "owner": "absorbed", "grade": "absorbed"}, admin
    )
    first, second = owned[-3], owned[-4]
    undone = duplicates.merge(first, second, {"stage": "absorbed", "channel": "absorbed"}, admin)
    duplicates.undo(undone, admin)
    # An erasure (the record stays, anonymised) and a customer deleted outright with its rows.
    retention.erase(owned[-6], admin, "客户要求删除")
    reviewed = Customer.id.in_(Review.select(Review.customer))
    gone = customers(reviewed, Customer.owner.is_null(False), Customer.stage != "signed")[0]
    Customer.delete().where(Customer.id == gone.id).execute()


def test_the_summaries_equal_the_live_figures_on_the_demo_office(office, monkeypatch):
    assert DailyRegistrations.select().count() > 0 and DailyReviews.select().count() > 0
    assert_figures_equal_the_live_ones(monkeypatch)


def test_after_weeks_of_edits_every_figure_still_equals_the_live_one(office, monkeypatch):
    edit_like_an_office(office)
    lost = Customer.select(Customer.lost_from).where(Customer.stage == "lost")
    assert {c.lost_from for c in lost} >= {"registered", "visited", "pledged", "subscribed", "signed"}
    assert_figures_equal_the_live_ones(monkeypatch)


def test_the_pages_show_the_live_figures(office, login, monkeypatch):
    edit_like_an_office(office)
    manager = login(office["manager"], DEMO_PASSWORD)
    everything = f"preset=custom&from={office_today() - timedelta(days=365)}&to={office_today()}"
    paths = (
        "/analytics/",
        "/analytics/?preset=90d",
        f"/analytics/?{everything}",
        "/analytics/reps?preset=90d&sort=timeliness",
        f"/analytics/reps/{office['rep'].id}?preset=90d",
        f"/analytics/reps/{office['rep2'].id}?{everything}",
    )
    summed = {path: _page(manager, path) for path in paths}
    with monkeypatch.context() as patch:
        for name, function in LIVE.items():
            patch.setattr(analytics, name, function)
        patch.setattr(scorecard, "scores", live.scores)
        patch.setattr(analytics_routes, "scores", live.scores)
        for path in paths:
            assert _page(manager, path) == summed[path], path


def _page(session, path) -> str:
    answer = session.get(path)
    assert answer.status_code == 200
    return CSRF.sub("", answer.get_data(as_text=True))


def test_a_missing_trigger_shows_as_a_difference(office, monkeypatch):
    """The equality above is not vacuous: without the trigger that moves a customer's reviews to a
    new owner, the ranking's rejection rates differ from the live ones after a reassignment."""
    reviewed = Customer.select().where(
        Customer.id.in_(Review.select(Review.customer)), Customer.owner.is_null(False)
    )
    customer = reviewed.order_by(Customer.id).first()
    other = User.select().where(User.role == "rep", User.id != customer.owner_id).first()
    period, reps = Period(date(2000, 1, 1), office_today()), all_reps()
    with db.atomic() as transaction:
        db.execute_sql("DROP TRIGGER daily_reviews_owner" + ("" if is_sqlite() else " ON customer"))
        Customer.update(owner=other).where(Customer.id == customer.id).execute()
        assert scorecard.scores(period, reps) != live.scores(period, reps)
        transaction.rollback()
    with db.atomic():
        Customer.update(owner=other).where(Customer.id == customer.id).execute()
    assert scorecard.scores(period, reps) == live.scores(period, reps)


def test_the_migration_fills_the_tables_from_the_rows_already_stored(office):
    """Its `down` and `up` again, in a transaction rolled back afterwards: the same rows, and each
    customer's lost_from read again from the audit log."""
    edit_like_an_office(office)
    kept = {model: sorted(model.select().tuples()) for model in SUMMARIES}
    lost_from = dict(Customer.select(Customer.id, Customer.lost_from).tuples())
    migration = _migration()
    with db.atomic() as transaction:
        migration.down(None, db.obj)
        migration.up(None, db.obj)
        assert dict(Customer.select(Customer.id, Customer.lost_from).tuples()) == lost_from
        assert {model: sorted(model.select().tuples()) for model in SUMMARIES} == kept
        transaction.rollback()


def _migration():
    from tests.test_migrations import migration

    return migration("0021_daily_summaries")


def test_an_audit_row_that_is_not_json_is_still_written(app):
    """The grade moves' trigger reads the audit row's JSON; a text that is not JSON counts as a move
    without grades instead of refusing the write."""
    AuditLog.create(action="grade_changed", changes="not json")
    AuditLog.create(action="grade_changed", changes='{"grade": ["C", "B"]}')
    moves = analytics.grade_mix(period_for("month"))["moves"]
    assert moves == [(("C", "B"), 1), ((None, None), 1)]


def test_no_summary_row_is_left_at_zero(office):
    edit_like_an_office(office)
    assert not DailyRegistrations.select().where(DailyRegistrations.customers <= 0).exists()
    assert not DailyCustomerMix.select().where(DailyCustomerMix.customers <= 0).exists()
    assert not DailyOwnerRegistrations.select().where(DailyOwnerRegistrations.customers <= 0).exists()
    assert not DailyReviews.select().where(DailyReviews.reviews <= 0).exists()
    assert not DailyFollowUpsDue.select().where(DailyFollowUpsDue.due <= 0).exists()
    assert not DailyVisits.select().where(DailyVisits.visits <= 0).exists()
    assert not DailyPool.select().where(DailyPool.entries <= 0).exists()
    assert not DailyGradeMoves.select().where(DailyGradeMoves.moves <= 0).exists()
