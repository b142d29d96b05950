"""The figures the daily summary tables replaced, computed live from the rows as before migration
0021 (commit 4594183's villa/analytics.py and villa/scorecard.py), so tests/test_daily_summaries.py
can check that every summed figure equals them. Not used by the app.

The figures that still read their rows directly (deals, disputes, the pool's size) are the app's
own and are not repeated here.
"""

import json
from collections import Counter
from datetime import timedelta
from itertools import product

from peewee import CTE, SQL, Case, Cast, NodeList, ValuesList, fn

from villa.analytics import CLAIM_ACTIONS, FUNNEL, Period, _grade_order, deal_figures, rate
from villa.clock import OFFICE_UTC_OFFSET
from villa.db import is_sqlite, unindexed
from villa.deals import confirmed_totals
from villa.models import (
    GRADES,
    STAGES,
    VISIT_TYPES,
    AuditLog,
    Channel,
    Customer,
    Deal,
    FollowUp,
    Review,
    Visit,
    office_day_start,
    office_today,
)
from villa.scorecard import DUE_LOOKAHEAD_DAYS, Score, _disputes, filled_fields

OFFICE_UTC_OFFSET_HOURS = OFFICE_UTC_OFFSET // timedelta(hours=1)


def office_date(column):
    """The office date of a stored (UTC, naive) timestamp, computed by the database."""
    if is_sqlite():
        return fn.date(column, f"+{OFFICE_UTC_OFFSET_HOURS} hours")
    return Cast(NodeList((column, SQL(f"+ interval '{OFFICE_UTC_OFFSET_HOURS} hours'"))), "date")


def range_counts(at, ranges, keys=()) -> Counter:
    """{(range number, *key values): rows with `at` in that range}, for every combination of key values.

    `ranges` are (since, until) instants, `keys` (column, values to count) pairs. Each count is one
    correlated COUNT over `at`'s range with the keys equal, which an index on (key columns..., at)
    answers with a seek and a walk along the index: no GROUP BY sort, no date arithmetic per row.
    Combinations without rows are left out.
    """
    combinations = list(product(*(values for _column, values in keys)))
    if not ranges or not combinations:
        return Counter()
    bounds = CTE(
        "bounds", ValuesList([(n, *pair) for n, pair in enumerate(ranges)]), columns=("n", "lo", "hi")
    )
    names = [f"k{position}" for position in range(len(keys))]
    sources = [bounds]
    if keys:
        sources.append(CTE("key_values", ValuesList(combinations), columns=names))
    values = [getattr(sources[-1].c, name) for name in names]
    equal = [column == value for (column, _values), value in zip(keys, values, strict=True)]
    count = at.model.select(fn.COUNT(SQL("*"))).where(at >= bounds.c.lo, at < bounds.c.hi, *equal)
    rows = at.model.select(bounds.c.n, *values, count).from_(*sources).with_cte(*sources).tuples()
    return Counter({tuple(key): n for *key, n in rows if n})


def _daily(period: Period, at, keys) -> Counter:
    """range_counts per office day of the period, keyed by the date instead of the day's number."""
    days = period.days()
    ranges = [(office_day_start(day), office_day_start(day + timedelta(days=1))) for day in days]
    return Counter({(days[n], *key): count for (n, *key), count in range_counts(at, ranges, keys).items()})


def office_days_between(later, earlier):
    if is_sqlite():
        return _office_day_number(later) - _office_day_number(earlier)
    return NodeList((office_date(later), SQL("-"), office_date(earlier)))


def _office_day_number(column):
    shifted = fn.julianday(column, f"+{OFFICE_UTC_OFFSET_HOURS} hours")
    return Cast(shifted + 0.5, "INTEGER")


def _channel_ids() -> list[int]:
    return [channel_id for (channel_id,) in Channel.select(Channel.id).tuples()]


def registrations(period: Period) -> dict:
    from villa.analytics import channels

    keys = [(Customer.channel, _channel_ids()), (Customer.visit_type, VISIT_TYPES)]
    by_channel, by_type = Counter(), Counter()
    for (day, channel_id, visit_type), count in _daily(period, Customer.registered_at, keys).items():
        by_channel[day, channel_id] += count
        by_type[day, visit_type] += count
    return {
        "days": period.days(),
        "channels": channels({channel_id for _day, channel_id in by_channel}),
        "by_channel": by_channel,
        "by_type": by_type,
        "total": sum(by_type.values()),
    }


def customer_mix(period: Period) -> Counter:
    keys = [(Customer.channel, _channel_ids()), (Customer.stage, STAGES), (Customer.grade, GRADES)]
    counts = range_counts(Customer.registered_at, [(period.since, period.until)], keys)
    return Counter({tuple(key): count for (_n, *key), count in counts.items()})


def stage_reach(period: Period, mix=None) -> tuple[Counter, Counter]:
    furthest, lost = Counter(), Counter()
    for (channel_id, stage, _grade), count in (mix if mix is not None else customer_mix(period)).items():
        if stage == "lost":
            lost[channel_id] += count
        else:
            furthest[channel_id, stage] += count
    return _reached(period, furthest, lost, Customer.channel), lost


def _reached(period: Period, furthest: Counter, lost: Counter, key) -> Counter:
    if lost:
        resolved = _stage_before_lost(period, list(lost), key)
        furthest.update(resolved)
        for key_id, count in lost.items():
            furthest[key_id, "registered"] += count - sum(n for (k, _s), n in resolved.items() if k == key_id)
    reached = Counter()
    for (key_id, stage), count in furthest.items():
        for earlier in FUNNEL[: FUNNEL.index(stage) + 1]:
            reached[key_id, earlier] += count
    return reached


def reach_by_owner(period: Period, rep_ids) -> Counter:
    furthest, lost = Counter(), Counter()
    rows = (
        Customer.select(Customer.owner, Customer.stage, fn.COUNT(SQL("*")))
        .where(Customer.owner.in_(list(rep_ids)), period.covers(Customer.registered_at))
        .group_by(Customer.owner, Customer.stage)
        .tuples()
    )
    for rep_id, stage, count in rows:
        if stage == "lost":
            lost[rep_id] += count
        elif stage in FUNNEL:
            furthest[rep_id, stage] += count
    return _reached(period, furthest, lost, Customer.owner)


def _stage_before_lost(period: Period, key_ids, key=Customer.channel) -> Counter:
    change = AuditLog.alias()
    latest = change.select(fn.MAX(change.id)).where(
        change.customer == Customer.id, change.action == "stage_changed"
    )
    left = Case(
        None,
        [(AuditLog.changes.contains(json.dumps([stage, "lost"])), stage) for stage in FUNNEL[1:]],
        "registered",
    )
    rows = (
        Customer.select(key, left, fn.COUNT(Customer.id))
        .join(AuditLog, on=(AuditLog.id == latest))
        .where(
            key.in_(key_ids),
            Customer.stage == "lost",
            Customer.grade.in_(GRADES),
            period.covers(Customer.registered_at),
        )
        .group_by(SQL("1"), SQL("2"))
        .tuples()
    )
    return Counter({(key_id, stage): count for key_id, stage, count in rows})


def visits(period: Period) -> dict:
    counts = Counter()
    for (day, is_first), count in _daily(period, Visit.at, [(Visit.is_first, (True, False))]).items():
        counts[day, bool(is_first)] += count
    return {
        "days": period.days(),
        "counts": counts,
        "first": sum(n for (_d, first), n in counts.items() if first),
        "returns": sum(n for (_d, first), n in counts.items() if not first),
    }


def grade_mix(period: Period, mix=None) -> dict:
    now_counts = Counter()
    for (_channel_id, _stage, grade), count in (mix if mix is not None else customer_mix(period)).items():
        now_counts[grade] += count
    texts = (
        AuditLog.select(AuditLog.changes, fn.COUNT(AuditLog.id))
        .where(AuditLog.action == "grade_changed", period.covers(AuditLog.at))
        .group_by(AuditLog.changes)
        .tuples()
    )
    moves = Counter()
    for text, count in texts:
        before, after = json.loads(text).get("grade", [None, None])
        moves[before, after] += count
    total = sum(now_counts.values())
    return {
        "grades": [
            {
                "grade": grade,
                "count": now_counts[grade],
                "share": rate(now_counts[grade], total),
                "moved_in": sum(n for (_b, a), n in moves.items() if a == grade),
                "moved_out": sum(n for (b, _a), n in moves.items() if b == grade),
            }
            for grade in GRADES
        ],
        "moves": sorted(moves.items(), key=lambda item: (_grade_order(item[0][0]), _grade_order(item[0][1]))),
        "total": total,
    }


def public_pool(period: Period) -> dict:
    actions = (*CLAIM_ACTIONS, "released_to_pool")
    counts = Counter()
    for (day, action), count in _daily(period, AuditLog.at, [(AuditLog.action, actions)]).items():
        counts[day, "claimed" if action in CLAIM_ACTIONS else "released"] += count
    size = Customer.select().where(Customer.in_public_pool == True).count()  # noqa: E712
    return {
        "days": period.days(),
        "counts": counts,
        "size": size,
        "claimed": sum(n for (_d, kind), n in counts.items() if kind == "claimed"),
        "released": sum(n for (_d, kind), n in counts.items() if kind == "released"),
    }


def scores(period: Period, reps) -> list[Score]:
    by_id = {rep.id: Score(rep) for rep in reps}
    if by_id:
        for figures in (_registrations, _reviews, _timeliness, _customers, _disputes, _deals):
            figures(period, by_id)
    return list(by_id.values())


def _registrations(period, by_id):
    rows = (
        Customer.select(Customer.owner, fn.COUNT(Customer.id), fn.SUM(filled_fields()))
        .where(Customer.owner.in_(list(by_id)), period.covers(Customer.registered_at))
        .group_by(Customer.owner)
        .tuples()
    )
    for rep_id, count, filled in rows:
        by_id[rep_id].registrations, by_id[rep_id].fields_filled = count, int(filled or 0)


def _reviews(period, by_id):
    reviewed = unindexed(Review.at)
    rows = (
        Customer.select(Customer.owner, Review.level, Review.decision, fn.COUNT(Review.id))
        .join(Review, on=(Review.customer == Customer.id))
        .where(
            Customer.owner.in_(list(by_id)),
            reviewed >= period.since,
            reviewed < period.until,
            Review.level.in_((1, 2)),
        )
        .group_by(Customer.owner, Review.level, Review.decision)
        .tuples()
    )
    for rep_id, level, decision, count in rows:
        tally = by_id[rep_id].reviews[level]
        tally[1] += count
        if decision == "rejected":
            tally[0] += count


def _timeliness(period, by_id):
    last_due_day = min(period.end, office_today() - timedelta(days=1))
    if last_due_day < period.start:
        return
    done = FollowUp.next_done_at.is_null(False)
    on_time = done & (office_date(FollowUp.next_done_at) <= FollowUp.next_at)
    rows = (
        FollowUp.select(
            FollowUp.author,
            fn.COUNT(SQL("*")),
            fn.SUM(Case(None, [(on_time, 1)], 0)),
            fn.COUNT(FollowUp.next_done_at),
        )
        .where(
            FollowUp.author.in_(list(by_id)),
            FollowUp.next_at.between(period.start, last_due_day),
            FollowUp.created_at >= office_day_start(period.start - timedelta(days=DUE_LOOKAHEAD_DAYS)),
            FollowUp.created_at < office_day_start(last_due_day + timedelta(days=1)),
        )
        .group_by(FollowUp.author)
        .tuples()
    )
    for rep_id, due, in_time, with_contact in rows:
        score = by_id[rep_id]
        score.due, score.on_time = due, int(in_time or 0)
        score.late = with_contact - score.on_time
        score.overdue = due - with_contact


def _customers(period, by_id):
    rows = (
        Customer.select(
            Customer.owner,
            fn.COUNT(SQL("*")),
            fn.SUM(Case(None, [(Customer.stage == "signed", 1)], 0)),
            fn.COUNT(Customer.first_followup_at),
            fn.SUM(office_days_between(Customer.first_followup_at, Customer.registered_at)),
        )
        .where(Customer.owner.in_(list(by_id)), period.covers(Customer.registered_at))
        .group_by(Customer.owner)
        .tuples()
    )
    for rep_id, count, signed, followed_up, days in rows:
        score = by_id[rep_id]
        score.customers, score.signed = count, int(signed or 0)
        score.followed_up, score.days_to_first_total = followed_up, float(days or 0)


def _deals(period, by_id):
    totals = confirmed_totals(period.start, period.end, Deal.rep)
    reached = reach_by_owner(period, list(by_id))
    for rep_id, score in by_id.items():
        score.deal_figures = deal_figures(score.rep, totals, reached, rep_id)
