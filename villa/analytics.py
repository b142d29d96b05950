"""The dashboard's figures (分析): where customers come from and how far they get, for a date range.

Each figure is one GROUP BY on indexed columns (registered_at, channel, stage, grade, Visit.at,
AuditLog.at); Python only pivots the grouped rows, so the cost follows days × channels, not customers.

Funnel rule: a customer registered in the range counts at every stage up to the furthest one reached.
For all but lost customers that is their current stage (stages only move forward; a lost customer
who came back counts at the stage they came back to). For a lost customer it is the stage they left
when they were lost: the "from" of their latest stage_changed audit row (x → lost), or "registered"
when no such row exists. Only lost customers' audit rows are read, through the customer index.
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import SQL, Case, Cast, NodeList, fn

from villa.db import is_sqlite
from villa.models import GRADES, AuditLog, Channel, Customer, Visit, office_day_start, office_today

FUNNEL = ("registered", "visited", "pledged", "subscribed", "signed")
PRESETS = ("week", "month", "90d", "custom")
MAX_DAYS = 366
CLAIM_ACTIONS = ("pool_claimed", "pool_taken")  # taken by a rep's claim, or by a walk-in at the desk
# Office time is China Standard Time: UTC+8 all year (no daylight saving since 1991).
OFFICE_UTC_OFFSET_HOURS = 8


def office_date(column):
    """The office date of a stored (UTC, naive) timestamp, computed by the database."""
    if is_sqlite():
        return fn.date(column, f"+{OFFICE_UTC_OFFSET_HOURS} hours")
    return Cast(NodeList((column, SQL(f"+ interval '{OFFICE_UTC_OFFSET_HOURS} hours'"))), "date")


def office_days_between(later, earlier):
    """Whole office days from one timestamp to a later one (same day: 0), in SQL."""
    if is_sqlite():
        return fn.julianday(office_date(later)) - fn.julianday(office_date(earlier))
    return NodeList((office_date(later), SQL("-"), office_date(earlier)))


def unindexed(column):
    """The column, with SQLite told not to use its index (a unary +, the documented way).

    Without statistics SQLite prefers any index on an equality (action = 'grade_changed', matching
    years of rows) to the date range that matches a few days; PostgreSQL's planner has statistics.
    """
    return NodeList((SQL("+"), column), glue="") if is_sqlite() else column


def as_date(value) -> date:
    """The database's answer for an office date (text, date or datetime, by database) as a date."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def rate(part, whole) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Period:
    """Office dates, both ends included."""

    start: date
    end: date
    preset: str = "custom"

    @property
    def since(self):
        return office_day_start(self.start)

    @property
    def until(self):
        return office_day_start(self.end + timedelta(days=1))

    def covers(self, column):
        return (column >= self.since) & (column < self.until)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def args(self) -> dict:
        """The query string that gives this period again."""
        if self.preset != "custom":
            return {"preset": self.preset}
        return {"preset": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}


def period_for(preset: str | None, start: date | None = None, end: date | None = None, today=None) -> Period:
    """A preset's dates, or a custom range (at most a year, ends swapped if reversed); default: this month."""
    today = today or office_today()
    if preset == "week":
        return Period(today - timedelta(days=today.weekday()), today, "week")
    if preset == "90d":
        return Period(today - timedelta(days=89), today, "90d")
    if preset in ("custom", None) and start and end:
        start, end = sorted((start, end))
        return Period(max(start, end - timedelta(days=MAX_DAYS - 1)), end, "custom")
    return Period(today.replace(day=1), today, "month")


def period_from_args(args, today=None) -> Period:
    return period_for(args.get("preset"), _parse(args.get("from")), _parse(args.get("to")), today)


def _parse(text) -> date | None:
    try:
        return date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def channels(used_ids=()) -> list[Channel]:
    """Active channels, and inactive ones that still have figures, in the admin's order."""
    used = set(used_ids)
    return [c for c in Channel.select().order_by(Channel.sort_order, Channel.id) if c.active or c.id in used]


def registrations(period: Period) -> dict:
    """Registrations per office day, by channel and by visit or call."""
    day = office_date(Customer.registered_at)
    rows = (
        Customer.select(day, Customer.channel, Customer.visit_type, fn.COUNT(Customer.id))
        .where(period.covers(Customer.registered_at))
        .group_by(day, Customer.channel, Customer.visit_type)
        .tuples()
    )
    by_channel, by_type = Counter(), Counter()
    for day_value, channel_id, visit_type, count in rows:
        by_channel[as_date(day_value), channel_id] += count
        by_type[as_date(day_value), visit_type] += count
    return {
        "days": period.days(),
        "channels": channels({channel_id for _day, channel_id in by_channel}),
        "by_channel": by_channel,
        "by_type": by_type,
        "total": sum(by_type.values()),
    }


def stage_reach(period: Period, group=None) -> tuple[Counter, Counter]:
    """{(group value, stage): customers registered in the period who reached that stage or a later one},
    and {group value: those of them lost}."""
    keys = [group] if group is not None else []
    current = (
        Customer.select(*keys, Customer.stage, fn.COUNT(Customer.id))
        .where(period.covers(Customer.registered_at))
        .group_by(*keys, Customer.stage)
        .tuples()
    )
    furthest, lost = Counter(), Counter()
    for *key, stage, count in current:
        value = key[0] if key else None
        if stage == "lost":
            lost[value] += count
        else:
            furthest[value, stage if stage in FUNNEL else "registered"] += count
    if lost:
        resolved = _stage_before_lost(period, group)
        furthest.update(resolved)
        for value, count in lost.items():
            furthest[value, "registered"] += count - sum(n for (v, _s), n in resolved.items() if v == value)
    reached = Counter()
    for (value, stage), count in furthest.items():
        for earlier in FUNNEL[: FUNNEL.index(stage) + 1]:
            reached[value, earlier] += count
    return reached, lost


def _stage_before_lost(period: Period, group=None) -> Counter:
    """{(group value, stage)}: lost customers by the stage they left, read from their latest stage change."""
    latest = (
        AuditLog.select(fn.MAX(AuditLog.id))
        .join(Customer, on=(AuditLog.customer == Customer.id))
        .where(
            unindexed(Customer.stage) == "lost",
            period.covers(Customer.registered_at),
            unindexed(AuditLog.action) == "stage_changed",
        )
        .group_by(AuditLog.customer)
    )
    # The audit row holds {"stage": [before, "lost"], ...} as json.dumps writes it.
    left = Case(
        None,
        [(AuditLog.changes.contains(json.dumps([stage, "lost"])), stage) for stage in FUNNEL[1:]],
        "registered",
    )
    keys = [group] if group is not None else []
    rows = (
        AuditLog.select(*keys, left, fn.COUNT(AuditLog.id))
        .join(Customer, on=(AuditLog.customer == Customer.id))
        .where(AuditLog.id.in_(latest))
        # By position: PostgreSQL does not match the CASE's bound parameters to a repeated CASE.
        .group_by(*(SQL(str(n)) for n in range(1, len(keys) + 2)))
        .tuples()
    )
    resolved = Counter()
    for *key, stage, count in rows:
        resolved[key[0] if key else None, stage] += count
    return resolved


def funnel(period: Period, reach=None) -> dict:
    """The funnel's steps with their rates; `reach` is stage_reach(period, <any grouping>) if known."""
    reached, lost = reach or stage_reach(period)
    totals = Counter()
    for (_value, stage), count in reached.items():
        totals[stage] += count
    steps, previous = [], None
    for stage in FUNNEL:
        count = totals[stage]
        steps.append(
            {
                "stage": stage,
                "count": count,
                "of_registered": rate(count, totals["registered"]),
                "of_previous": rate(count, previous) if previous is not None else None,
            }
        )
        previous = count
    return {"steps": steps, "lost": sum(lost.values())}


def channel_effectiveness(period: Period, reach=None) -> list[dict]:
    """Per channel: registrations, visits (reached visited or later), signed, and the rates."""
    reached, _lost = reach or stage_reach(period, Customer.channel)
    rows = []
    for channel in channels({value for value, _stage in reached}):
        registered = reached[channel.id, "registered"]
        visited, signed = reached[channel.id, "visited"], reached[channel.id, "signed"]
        rows.append(
            {
                "channel": channel,
                "registrations": registered,
                "visits": visited,
                "signed": signed,
                "visit_rate": rate(visited, registered),
                "conversion": rate(signed, registered),
            }
        )
    return rows


def grade_mix(period: Period) -> dict:
    """Current grades of the customers registered in the period, and every grade change made in it."""
    now_counts = dict(
        Customer.select(Customer.grade, fn.COUNT(Customer.id))
        .where(period.covers(Customer.registered_at))
        .group_by(Customer.grade)
        .tuples()
    )
    # Identical moves have identical JSON, so grouping by the text leaves one row per (from, to).
    texts = (
        AuditLog.select(AuditLog.changes, fn.COUNT(AuditLog.id))
        .where(period.covers(AuditLog.at), unindexed(AuditLog.action) == "grade_changed")
        .group_by(AuditLog.changes)
        .tuples()
    )
    moves = Counter()
    for text, count in texts:
        before, after = json.loads(text).get("grade", [None, None])
        moves[before, after] += count
    grades = list(GRADES) + sorted(set(now_counts) - set(GRADES))
    total = sum(now_counts.values())
    return {
        "grades": [
            {
                "grade": grade,
                "count": now_counts.get(grade, 0),
                "share": rate(now_counts.get(grade, 0), total),
                "moved_in": sum(n for (_b, a), n in moves.items() if a == grade),
                "moved_out": sum(n for (b, _a), n in moves.items() if b == grade),
            }
            for grade in grades
        ],
        "moves": sorted(moves.items(), key=lambda item: (_grade_order(item[0][0]), _grade_order(item[0][1]))),
        "total": total,
    }


def _grade_order(grade) -> int:
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def visits(period: Period) -> dict:
    """First registrations and return visits at the desk (walk-ins and calls), per office day."""
    day = office_date(Visit.at)
    rows = (
        Visit.select(day, Visit.is_first, fn.COUNT(Visit.id))
        .where(period.covers(Visit.at))
        .group_by(day, Visit.is_first)
        .tuples()
    )
    counts = Counter()
    for day_value, is_first, count in rows:
        counts[as_date(day_value), bool(is_first)] += count
    return {
        "days": period.days(),
        "counts": counts,
        "first": sum(n for (_d, first), n in counts.items() if first),
        "returns": sum(n for (_d, first), n in counts.items() if not first),
    }


def public_pool(period: Period) -> dict:
    """The pool's size now, and per office day the customers released to it and claimed from it.

    Claims are read from the audit log, not Customer.claimed_at: a release clears claimed_at, and a
    claim that was later released still happened in the period.
    """
    day = office_date(AuditLog.at)
    rows = (
        AuditLog.select(day, AuditLog.action, fn.COUNT(AuditLog.id))
        .where(period.covers(AuditLog.at), AuditLog.action.in_((*CLAIM_ACTIONS, "released_to_pool")))
        .group_by(day, AuditLog.action)
        .tuples()
    )
    counts = Counter()
    for day_value, action, count in rows:
        counts[as_date(day_value), "claimed" if action in CLAIM_ACTIONS else "released"] += count
    size = Customer.select().where(Customer.in_public_pool == True).count()  # noqa: E712
    return {
        "days": period.days(),
        "counts": counts,
        "size": size,
        "claimed": sum(n for (_d, kind), n in counts.items() if kind == "claimed"),
        "released": sum(n for (_d, kind), n in counts.items() if kind == "released"),
    }
