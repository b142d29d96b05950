"""轮序: the walk-in rotation of reps on duty, kept in the database so every tablet sees one queue."""

import json
from contextlib import contextmanager
from datetime import date

from peewee import SQL, fn

from villa.db import db, is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, RotationEntry, User, now, office_today
from villa.prepared import Prepared, slot

SKIP_REASONS = ("busy", "away")
ON_DUTY = ("available", "busy", "away")
STATUS_LABELS = {"available": _l("Available"), "busy": _l("With a customer"), "away": _l("Away")}
SKIP_LABELS = {"busy": _l("With a customer (keeps their place)"), "away": _l("Away (to the back)")}
# Any constant keys the PostgreSQL advisory lock; the office day is the second key.
_PG_LOCK_KEY = 0x7669


class RotationError(ValueError):
    """A rotation action the desk cannot do; `.message` says why, in the desk's language."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


_in_queue = Prepared(
    lambda: (
        RotationEntry.select(
            RotationEntry, User.username.alias("rep_username"), User.display_name.alias("rep_name")
        )
        .join(User)
        .where(RotationEntry.day == slot(), RotationEntry.status != slot())
        .order_by(RotationEntry.position)
    )
)


def queue(day: date | None = None) -> list[RotationEntry]:
    """Today's reps on duty in queue order, each with the rep's `rep_username` and `rep_name`."""
    return list(_in_queue.rows(day or office_today(), "off"))


_first_available = Prepared(
    lambda: (
        RotationEntry.select(RotationEntry.rep)
        .where(RotationEntry.day == slot(), RotationEntry.status == slot())
        .order_by(RotationEntry.position)
        .limit(SQL("1"))
    )
)


def next_rep_id(day: date | None = None) -> int | None:
    """The rep whose turn it is: the first available one in the queue."""
    return _first_available.scalar(day or office_today(), "available")


def check_in(rep: User, actor: User, day: date | None = None) -> RotationEntry:
    """Put a rep on duty at the back of the queue; already on duty changes nothing."""
    day = day or office_today()
    if rep.role != "rep" or not rep.active:
        raise RotationError(_l("Only an active sales rep can join the rotation."))
    with _writing(day):
        entry = _entry(rep, day)
        if entry is not None and entry.status in ON_DUTY:
            return entry
        if entry is None:
            entry = RotationEntry(day=day, rep=rep)
        entry.position, entry.status, entry.checked_in_at = _back(day), "available", now()
        entry.save()
        _log(actor, "rotation_check_in", rep)
    return entry


def check_out(rep: User, actor: User, day: date | None = None) -> RotationEntry:
    """Take a rep off duty for the rest of the day."""
    day = day or office_today()
    with _writing(day):
        entry = _on_duty(rep, day)
        entry.status = "off"
        entry.save()
        _log(actor, "rotation_check_out", rep)
    return entry


def assign(rep: User, actor: User, day: date | None = None) -> RotationEntry:
    """Record that this rep took a walk-in: they go to the back of the queue."""
    day = day or office_today()
    with _writing(day):
        entry = _on_duty(rep, day)
        entry.position = _back(day)
        entry.assigned_count += 1
        entry.last_assigned_at = now()
        entry.save()
        _log(actor, "rotation_assign", rep)
    return entry


def skip(rep: User, reason: str, actor: User, day: date | None = None) -> RotationEntry:
    """轮空: pass a rep over; busy keeps their place, away sends them to the back."""
    if reason not in SKIP_REASONS:
        raise RotationError(_l("Say why the turn is skipped: with a customer, or away."))
    day = day or office_today()
    with _writing(day):
        entry = _on_duty(rep, day)
        entry.status = reason
        if reason == "away":
            entry.position = _back(day)
        entry.save()
        _log(actor, "rotation_skip", rep, reason=reason)
    return entry


def mark_available(rep: User, actor: User, day: date | None = None) -> RotationEntry:
    """A busy or away rep is free again, in the place they hold."""
    day = day or office_today()
    with _writing(day):
        entry = _on_duty(rep, day)
        entry.status = "available"
        entry.save()
        _log(actor, "rotation_available", rep)
    return entry


@contextmanager
def _writing(day: date):
    """A write transaction that holds the day's queue, so two desks pressing at once take turns."""
    with write_transaction():
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL's READ COMMITTED would let
        # two transactions read the same max(position), or the same count, and both write it.
        if not is_sqlite():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_PG_LOCK_KEY, day.toordinal()))
        yield


def _entry(rep: User, day: date) -> RotationEntry | None:
    return RotationEntry.get_or_none(RotationEntry.day == day, RotationEntry.rep == rep)


def _on_duty(rep: User, day: date) -> RotationEntry:
    entry = _entry(rep, day)
    if entry is None or entry.status not in ON_DUTY:
        raise RotationError(_l("%(name)s is not on duty today.", name=rep.display_name))
    return entry


def _back(day: date) -> int:
    """The position behind everyone; read inside _writing so no one else takes it meanwhile."""
    # Checked-out entries count too, so a rep who rejoins never shares a position.
    highest = RotationEntry.select(fn.MAX(RotationEntry.position)).where(RotationEntry.day == day).scalar()
    return (highest or 0) + 1


def _log(actor: User, action: str, rep: User, **changes):
    AuditLog.create(actor=actor, action=action, target=f"user:{rep.id}", changes=json.dumps(changes))
