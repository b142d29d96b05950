"""轮序: the walk-in rotation of reps on duty, kept in the database so every tablet sees one queue."""

import json
from contextlib import contextmanager
from datetime import date, timedelta

from peewee import SQL, fn

from villa.db import db, is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import (
    AuditLog,
    RotationEntry,
    RotationSkip,
    User,
    Visit,
    now,
    office_day_start,
    office_today,
)
from villa.prepared import Prepared, slot

SKIP_REASONS = ("busy", "away")
ON_DUTY = ("available", "busy", "away")
STATUS_LABELS = {"available": _l("Available"), "busy": _l("With a customer"), "away": _l("Away")}
SKIP_LABELS = {"busy": _l("With a customer (keeps their place)"), "away": _l("Away (to the back)")}
# A walk-in given to someone else than the rep whose turn it is needs one of these reasons.
OUT_OF_TURN_REASONS = ("customer_choice", "referral", "language", "other")
OUT_OF_TURN_LABELS = {
    "customer_choice": _l("The customer asked for this rep"),
    "referral": _l("Referred by an existing customer"),
    "language": _l("Language"),
    "other": _l("Other"),
}
NOTE_MAX = 200
# 签退 can be taken back this long after it was pressed: the rep gets their place back.
UNDO_CHECK_OUT = timedelta(seconds=10)
# Any constant keys the PostgreSQL advisory lock; the office day is the second key.
_PG_LOCK_KEY = 0x7669


class RotationError(ValueError):
    """A rotation action the desk cannot do; `.message` says why, in the desk's language; `.field`
    names the form field to fix, when there is one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


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


def next_rep(day: date | None = None) -> User | None:
    """The rep whose turn it is, as a user (the registration form and the out-of-turn page name them)."""
    rep_id = next_rep_id(day)
    return User.get_by_id(rep_id) if rep_id is not None else None


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
        # The place stays with the entry and the status before goes in the log: undo_check_out
        # puts both back.
        was, entry.status = entry.status, "off"
        entry.save()
        _log(actor, "rotation_check_out", rep, was=was)
    return entry


def _last_move(rep_id: int, day: date) -> AuditLog | None:
    """The rep's latest rotation action today, from the log."""
    return (
        AuditLog.select()
        .where(
            AuditLog.target == f"user:{rep_id}",
            AuditLog.action.startswith("rotation_"),
            AuditLog.at >= office_day_start(day),
        )
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .first()
    )


def undo_check_out(rep: User, actor: User, day: date | None = None) -> RotationEntry:
    """Take back a 签退 pressed less than UNDO_CHECK_OUT ago: the rep is on duty again, in the same
    place of the queue and with the status they had."""
    day = day or office_today()
    with _writing(day):
        entry = _entry(rep, day)
        last = _last_move(rep.id, day)
        if (
            entry is None
            or entry.status != "off"
            or last is None
            or last.action != "rotation_check_out"
            or last.at < now() - UNDO_CHECK_OUT
        ):
            raise RotationError(_l("%(name)s's check-out can no longer be undone.", name=rep.display_name))
        was = last.change_map.get("was")
        entry.status = was if was in ON_DUTY else "available"
        entry.save()
        _log(actor, "rotation_undo_check_out", rep, status=entry.status)
    return entry


def just_checked_out(day: date | None = None) -> list[RotationEntry]:
    """Reps checked out less than UNDO_CHECK_OUT ago, whose 签退 can still be undone; each with
    `rep_username` and `rep_name`, in their old queue order."""
    day = day or office_today()
    recent = AuditLog.select(AuditLog.target).where(
        AuditLog.action == "rotation_check_out", AuditLog.at >= now() - UNDO_CHECK_OUT
    )
    rep_ids = [int(target.split(":", 1)[1]) for (target,) in recent.tuples()]
    if not rep_ids:
        return []
    entries = (
        RotationEntry.select(
            RotationEntry, User.username.alias("rep_username"), User.display_name.alias("rep_name")
        )
        .join(User)
        .where(RotationEntry.day == day, RotationEntry.status == "off", RotationEntry.rep.in_(rep_ids))
        .order_by(RotationEntry.position)
        .objects()  # rep_username and rep_name on the entry, as queue() has them
    )
    return [entry for entry in entries if _last_move(entry.rep_id, day).action == "rotation_check_out"]


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


def out_of_turn(reason: str | None, note: str | None) -> tuple[str, str]:
    """The reason a walk-in goes out of turn, checked: (reason, note)."""
    note = (note or "").strip()
    if reason not in OUT_OF_TURN_REASONS:
        raise RotationError(
            _l("It is not this rep's turn: choose why the walk-in goes to them."), "skip_reason"
        )
    if reason == "other" and not note:
        raise RotationError(_l("Say in a few words why the walk-in goes out of turn."), "skip_note")
    if len(note) > NOTE_MAX:
        raise RotationError(_l("At most %(max)d characters.", max=NOTE_MAX), "skip_note")
    return reason, note


def record_skip(
    given_to: User, actor: User, reason: str, note: str, skipped: User | None, visit: Visit | None = None
) -> RotationSkip:
    """Keep a walk-in given out of turn for the skip report; call it inside the write transaction.
    The rep keeps their place in the queue: a walk-in that chose them is not their turn."""
    skip_row = RotationSkip.create(
        day=office_today(),
        given_to=given_to,
        skipped=skipped,
        reason=reason,
        note=note,
        actor=actor,
        visit=visit,
    )
    _log(
        actor, "rotation_out_of_turn", given_to, reason=reason, skipped=skipped.username if skipped else None
    )
    return skip_row


def took_walk_in(rep: User, actor: User, reason: str | None = None, note: str = "") -> RotationEntry:
    """The desk's "took a walk-in" for a walk-in not registered through the form: in turn the rep
    goes to the back; out of turn it needs a reason, and the rep keeps their place."""
    day = office_today()
    with _writing(day):
        entry = _on_duty(rep, day)
        turn = next_rep(day)
        if turn is None or turn.id == rep.id:
            entry.position = _back(day)
            entry.assigned_count += 1
            entry.last_assigned_at = now()
            _log(actor, "rotation_assign", rep)
        else:
            reason, note = out_of_turn(reason, note)
            record_skip(rep, actor, reason, note, turn)
        entry.manual_walk_ins += 1
        entry.save()
    return entry


def walk_ins_today(entries: list[RotationEntry]) -> dict[int, int]:
    """今日接待: every walk-in each of these reps received today, registered (new, returning, out of
    turn, from the pool) or marked by hand at the desk."""
    counts = {entry.rep_id: entry.manual_walk_ins for entry in entries}
    if counts:
        visits = (
            # Counted by rep_id (never null here), which the (rep_id, kind, at) index holds: the
            # count reads the index alone, not each visit's row.
            Visit.select(Visit.rep, fn.COUNT(Visit.rep))
            .where(Visit.at >= office_day_start(), Visit.kind == "visit", Visit.rep.in_(list(counts)))
            .group_by(Visit.rep)
            .tuples()
        )
        for rep_id, count in visits:
            counts[rep_id] += count
    return counts


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
