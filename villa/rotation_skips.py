"""The skip report: walk-ins the desk gave out of turn, by day, by rep and by reason (manager)."""

from dataclasses import dataclass
from datetime import date, timedelta

from peewee import JOIN, fn

from villa.models import RotationSkip, User, office_today

DEFAULT_DAYS = 30
ROWS_SHOWN = 200


@dataclass
class SkipReport:
    start: date
    end: date
    total: int
    by_day: list  # [(day, count)], newest first
    by_rep: list  # [(rep, times given out of turn, times passed over)], most first
    by_reason: list  # [(reason, count)], most first
    rows: list  # the newest ROWS_SHOWN skips
    more: bool  # there are more than ROWS_SHOWN


def skip_report(start: date | None = None, end: date | None = None) -> SkipReport:
    """Out-of-turn walk-ins from `start` to `end` (office days, both included; the last 30 by default)."""
    end = end or office_today()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    within = (RotationSkip.day >= start) & (RotationSkip.day <= end)
    count = fn.COUNT(RotationSkip.id)
    by_day = list(
        RotationSkip.select(RotationSkip.day, count).where(within).group_by(RotationSkip.day)
        .order_by(RotationSkip.day.desc()).tuples()
    )  # fmt: skip
    by_reason = list(
        RotationSkip.select(RotationSkip.reason, count).where(within).group_by(RotationSkip.reason)
        .order_by(count.desc(), RotationSkip.reason).tuples()
    )  # fmt: skip
    given = dict(
        RotationSkip.select(RotationSkip.given_to, count)
        .where(within)
        .group_by(RotationSkip.given_to)
        .tuples()
    )
    passed = dict(
        RotationSkip.select(RotationSkip.skipped, count)
        .where(within, RotationSkip.skipped.is_null(False))
        .group_by(RotationSkip.skipped)
        .tuples()
    )
    reps = {rep.id: rep for rep in User.select().where(User.id.in_(list(set(given) | set(passed))))}
    by_rep = sorted(
        ((reps[rep_id], given.get(rep_id, 0), passed.get(rep_id, 0)) for rep_id in reps),
        key=lambda row: (-row[1] - row[2], row[0].display_name),
    )
    Given, Skipped, Actor = User.alias("given"), User.alias("skipped"), User.alias("actor")
    rows = list(
        RotationSkip.select(RotationSkip, Given, Skipped, Actor)
        .join(Given, on=(RotationSkip.given_to == Given.id))
        .switch(RotationSkip)
        .join(Skipped, JOIN.LEFT_OUTER, on=(RotationSkip.skipped == Skipped.id))
        .switch(RotationSkip)
        .join(Actor, on=(RotationSkip.actor == Actor.id))
        .where(within)
        .order_by(RotationSkip.at.desc(), RotationSkip.id.desc())
        .limit(ROWS_SHOWN + 1)
    )
    return SkipReport(
        start=start,
        end=end,
        total=sum(n for _, n in by_day),
        by_day=by_day,
        by_rep=by_rep,
        by_reason=by_reason,
        rows=rows[:ROWS_SHOWN],
        more=len(rows) > ROWS_SHOWN,
    )
