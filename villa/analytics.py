"""The dashboard's figures (分析): where customers come from and how far they get, for a date range.

Every figure but the deals and the pool's size is summed from the daily summary tables
(migrations/0021_daily_summaries.py): rows per office day and what a figure is counted by, kept
current by database triggers on the writes to customers, visits and audit rows, so a 90-day figure
sums at most a few thousand rows whatever the number of customers, and equals what counting the
rows themselves gives (tests/test_daily_summaries.py checks it against that live computation,
tests/live_figures.py).

Funnel rule: a customer registered in the range counts at every stage up to the furthest one reached.
For all but lost customers that is their current stage (stages only move forward; a lost customer
who came back counts at the stage they came back to). For a lost customer it is the stage they left
when they were lost: the "from" of their latest stage_changed audit row (x → lost), or "registered"
when no such row exists; database triggers keep it in customer.lost_from.

Deals (deals_by_channel; by rep in villa.scorecard): the confirmed 认筹, 认购 and 签约 dated in the
range, counted and summed by their date (villa.deals.confirmed_totals); visit→subscription and
visit→signing are the funnel's reach of 认购 and 签约 over its reach of 已到访.

Counts are by the values the models allow (STAGES, GRADES, VISIT_TYPES, the channel table): the forms
and imports only ever store those.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from peewee import fn

from villa.clock import office_day_start, office_today
from villa.db import db
from villa.deals import confirmed_totals
from villa.models import (
    DEAL_STAGES,
    GRADES,
    STAGES,
    VISIT_TYPES,
    Channel,
    Customer,
    DailyCustomerMix,
    DailyGradeMoves,
    DailyOwnerRegistrations,
    DailyPool,
    DailyRegistrations,
    DailyVisits,
)

FUNNEL = ("registered", "visited", "pledged", "subscribed", "signed")
MAX_DAYS = 366
CLAIM_ACTIONS = ("pool_claimed", "pool_taken")  # taken by a rep's claim, or by a walk-in at the desk
POOL_ACTIONS = (*CLAIM_ACTIONS, "released_to_pool")


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


def _channel_ids() -> list[int]:
    return [channel_id for (channel_id,) in Channel.select(Channel.id).tuples()]


def _by_day(period: Period, query) -> list[tuple]:
    """The query's rows as the database driver returns them, the first column (an office day of the
    period) as a date: peewee would parse each day's text again with strptime, one row at a time."""
    days = {day.isoformat(): day for day in period.days()}
    return [(days.get(str(day), day), *rest) for day, *rest in db.execute(query)]


def registrations(period: Period) -> dict:
    """Registrations per office day, by channel and by visit or call."""
    summary = DailyRegistrations
    rows = _by_day(
        period,
        summary.select(summary.day, summary.channel_id, summary.visit_type, fn.SUM(summary.customers))
        .where(summary.day.between(period.start, period.end))
        .group_by(summary.day, summary.channel_id, summary.visit_type),
    )
    known = set(_channel_ids())
    by_channel, by_type = Counter(), Counter()
    for day, channel_id, visit_type, count in rows:
        if count and channel_id in known and visit_type in VISIT_TYPES:
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
    """{(channel id, stage, grade): customers registered in the period}; the funnel, the channel table
    and the grade mix are all drawn from it."""
    summary = DailyCustomerMix
    rows = (
        summary.select(summary.channel_id, summary.stage, summary.grade, fn.SUM(summary.customers))
        .where(summary.day.between(period.start, period.end))
        .group_by(summary.channel_id, summary.stage, summary.grade)
        .tuples()
    )
    known = set(_channel_ids())
    return Counter(
        {
            (channel_id, stage, grade): count
            for channel_id, stage, grade, count in rows
            if count and channel_id in known and stage in STAGES and grade in GRADES
        }
    )


def stage_reach(period: Period, mix=None) -> tuple[Counter, Counter]:
    """{(channel id, stage): customers registered in the period who reached that stage or a later one},
    and {channel id: those of them lost}."""
    furthest, lost = Counter(), Counter()
    for (channel_id, stage, _grade), count in (mix if mix is not None else customer_mix(period)).items():
        if stage == "lost":
            lost[channel_id] += count
        else:
            furthest[channel_id, stage] += count
    if lost:
        furthest.update(_lost_by_stage_left(period, list(lost)))
    return _reached(furthest), lost


def _lost_by_stage_left(period: Period, channel_ids) -> Counter:
    """{(channel id, stage): the period's lost customers by the stage they left}."""
    summary = DailyCustomerMix
    rows = (
        summary.select(summary.channel_id, summary.lost_from, fn.SUM(summary.customers))
        .where(
            summary.day.between(period.start, period.end),
            summary.stage == "lost",
            summary.grade.in_(GRADES),
            summary.channel_id.in_(channel_ids),
        )
        .group_by(summary.channel_id, summary.lost_from)
        .tuples()
    )
    return Counter({(channel_id, _left(stage)): count for channel_id, stage, count in rows if count})


def _left(stage: str) -> str:
    return stage if stage in FUNNEL else "registered"


def _reached(furthest: Counter) -> Counter:
    """{(key, stage): customers who reached the stage or a later one}, from {(key, furthest stage)}."""
    reached = Counter()
    for (key_id, stage), count in furthest.items():
        for earlier in FUNNEL[: FUNNEL.index(stage) + 1]:
            reached[key_id, earlier] += count
    return reached


def reach_by_owner(period: Period, rep_ids) -> Counter:
    """{(rep id, stage): customers registered in the period that the rep owns now who reached that
    stage or a later one}: the funnel's rule, by owner."""
    summary = DailyOwnerRegistrations
    rows = (
        summary.select(summary.owner_id, summary.stage, summary.lost_from, fn.SUM(summary.customers))
        .where(summary.owner_id.in_(list(rep_ids)), summary.day.between(period.start, period.end))
        .group_by(summary.owner_id, summary.stage, summary.lost_from)
        .tuples()
    )
    furthest = Counter()
    for rep_id, stage, lost_from, count in rows:
        if stage == "lost":
            furthest[rep_id, _left(lost_from)] += count
        elif stage in FUNNEL:
            furthest[rep_id, stage] += count
    return _reached(furthest)


def funnel(period: Period, reach=None) -> dict:
    """The funnel's steps with their rates; `reach` is stage_reach(period) if known."""
    reached, lost = reach or stage_reach(period)
    totals = Counter()
    for (_channel_id, stage), count in reached.items():
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
    reached, _lost = reach or stage_reach(period)
    rows = []
    for channel in channels({channel_id for channel_id, _stage in reached}):
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


def deals_by_channel(period: Period, reach=None) -> list[dict]:
    """Per channel: the confirmed deals dated in the period (认筹, 认购, 签约: number and total price),
    and of the customers registered in the period who visited, the share who reached 认购 and 签约
    (the funnel's rule; `reach` is stage_reach(period) if known)."""
    reached, _lost = reach or stage_reach(period)
    totals = confirmed_totals(period.start, period.end, Customer.channel)
    used = {channel_id for channel_id, _stage in reached} | {channel_id for channel_id, _s in totals}
    return [deal_figures(channel, totals, reached, channel.id) for channel in channels(used)]


def deal_figures(who, totals: dict, reached: Counter, key) -> dict:
    """One row of deal figures: counts and amounts by deal stage, and the visit→deal rates."""
    figures = {"who": who, "visited": reached[key, "visited"]}
    for stage in DEAL_STAGES:
        figures[stage], figures[f"{stage}_amount"] = totals.get((key, stage), [0, 0])
        figures[f"reached_{stage}"] = reached[key, stage]
    figures["deals"] = sum(figures[stage] for stage in DEAL_STAGES)
    figures["visit_to_subscription"] = rate(figures["reached_subscribed"], figures["visited"])
    figures["visit_to_signing"] = rate(figures["reached_signed"], figures["visited"])
    return figures


def grade_mix(period: Period, mix=None) -> dict:
    """Current grades of the customers registered in the period, and every grade change made in it."""
    now_counts = Counter()
    for (_channel_id, _stage, grade), count in (mix if mix is not None else customer_mix(period)).items():
        now_counts[grade] += count
    summary = DailyGradeMoves
    rows = (
        summary.select(summary.grade_from, summary.grade_to, fn.SUM(summary.moves))
        .where(summary.day.between(period.start, period.end))
        .group_by(summary.grade_from, summary.grade_to)
        .tuples()
    )
    # '' in the summary is a move without that side in its audit row, which reads as None.
    moves = Counter({(before or None, after or None): count for before, after, count in rows if count})
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


def _grade_order(grade) -> int:
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def visits(period: Period) -> dict:
    """First registrations and return visits at the desk (walk-ins and calls), per office day."""
    rows = _by_day(
        period,
        DailyVisits.select(DailyVisits.day, DailyVisits.is_first, fn.SUM(DailyVisits.visits))
        .where(DailyVisits.day.between(period.start, period.end))
        .group_by(DailyVisits.day, DailyVisits.is_first),
    )
    counts = Counter()
    for day, is_first, count in rows:
        if count:
            counts[day, bool(is_first)] += count
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
    rows = _by_day(
        period,
        DailyPool.select(DailyPool.day, DailyPool.action, fn.SUM(DailyPool.entries))
        .where(DailyPool.day.between(period.start, period.end), DailyPool.action.in_(POOL_ACTIONS))
        .group_by(DailyPool.day, DailyPool.action),
    )
    counts = Counter()
    for day, action, count in rows:
        if count:
            counts[day, "claimed" if action in CLAIM_ACTIONS else "released"] += count
    size = Customer.select().where(Customer.in_public_pool == True).count()  # noqa: E712
    return {
        "days": period.days(),
        "counts": counts,
        "size": size,
        "claimed": sum(n for (_d, kind), n in counts.items() if kind == "claimed"),
        "released": sum(n for (_d, kind), n in counts.items() if kind == "released"),
    }
