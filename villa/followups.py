"""Follow-ups (跟进): each contact with a customer, appended to the timeline and never changed.

A wrong entry is corrected by a new entry that points at it; what an entry says is never changed
and no entry is deleted. Two times are kept for the scorecard as each contact is recorded: on an
entry with a next date, when that next follow-up was done (next_done_at: the customer's next entry
after it, by anyone, a correction included); on the customer, their first follow-up
(first_followup_at).
"""

from peewee import fn

from villa.db import is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import FOLLOWUP_KINDS, GRADES, AuditLog, Customer, FollowUp, User, now, office_today
from villa.prepared import Prepared, slot
from villa.protection import renewed_protection

CONTENT_MAX = 1000
RESULT_MAX = 200
# Meeting the customer in person is what moves a new registration on to "visited".
MEETING_KINDS = ("visit", "viewing")


class FollowUpError(ValueError):
    """The follow-up cannot be recorded; `field` names the form field to fix."""

    def __init__(self, message, field="content"):
        super().__init__(str(message))
        self.message = message
        self.field = field


def add_followup(
    customer: Customer,
    author: User,
    kind: str,
    content: str,
    reached: bool = False,
    result: str = "",
    next_at=None,
    grade: str | None = None,
    corrects: FollowUp | int | None = None,
) -> FollowUp:
    """Record one contact and what it does to the customer: activity, next date, grade, protection."""
    content, result = (content or "").strip(), (result or "").strip()
    _check(kind, content, result, next_at, grade)
    with write_transaction():
        fresh = _locked(customer)
        corrected = _corrected_entry(fresh, corrects)
        old_grade, old_stage = fresh.grade, fresh.stage
        changed_grade = grade if grade and grade != old_grade else None
        followup = FollowUp.create(
            customer=fresh,
            author=author,
            kind=kind,
            reached=bool(reached),
            content=content,
            result=result,
            next_at=next_at,
            grade=changed_grade,
            corrects=corrected,
        )
        followup.author_name = author.display_name  # as the timeline's rows carry it
        # The changes the follow-up caused carry its moment, so the timeline keeps them together.
        moment = followup.created_at
        changed = _apply_to_customer(fresh, kind, bool(reached), next_at, changed_grade)
        changed += _record_contact_time(fresh, moment)
        fresh.save(only=changed)
        details = {"followup": followup.id, "reached": bool(reached)}
        if corrected:
            details["corrects"] = corrected.id
        _audit(fresh, author, "followup_added", details, moment)
        if changed_grade:
            _audit(fresh, author, "grade_changed", {"grade": [old_grade, changed_grade]}, moment)
        if fresh.stage != old_stage:
            _audit(fresh, author, "stage_changed", {"stage": [old_stage, fresh.stage]}, moment)
    for field in changed:
        setattr(customer, field.name, getattr(fresh, field.name))
    return followup


def _check(kind, content, result, next_at, grade):
    if kind not in FOLLOWUP_KINDS:
        raise FollowUpError(_l("Choose how you contacted the customer."), "kind")
    if not content:
        raise FollowUpError(_l("Write what was said or done."), "content")
    if len(content) > CONTENT_MAX:
        raise FollowUpError(_l("The text is too long."), "content")
    if len(result) > RESULT_MAX:
        raise FollowUpError(_l("The text is too long."), "result")
    if next_at is not None and next_at < office_today():
        raise FollowUpError(_l("The next follow-up cannot be in the past."), "next_at")
    if grade is not None and grade not in GRADES:
        raise FollowUpError(_l("Choose a grade from the list."), "grade")


def _locked(customer: Customer) -> Customer:
    """The customer as stored now, so a concurrent edit of other fields is not overwritten."""
    query = Customer.select().where(Customer.id == customer.id)
    # SQLite has no row locks; write_transaction already holds its one write lock.
    return (query if is_sqlite() else query.for_update()).get()


def _corrected_entry(customer: Customer, corrects) -> FollowUp | None:
    if corrects is None:
        return None
    entry_id = corrects.id if isinstance(corrects, FollowUp) else corrects
    entry = FollowUp.get_or_none(FollowUp.id == entry_id, FollowUp.customer == customer.id)
    if entry is None:
        raise FollowUpError(_l("Only an entry of this customer can be corrected."), "corrects")
    return entry


def _apply_to_customer(customer: Customer, kind, reached, next_at, grade) -> list:
    """Change the customer as the contact implies; returns the fields that changed."""
    moment = now()
    customer.last_activity_at = customer.updated_at = moment
    changed = [Customer.last_activity_at, Customer.updated_at]
    if next_at is not None:
        customer.next_followup_on = next_at
        changed.append(Customer.next_followup_on)
    elif customer.next_followup_on and customer.next_followup_on <= office_today():
        # The follow-up that was due has now been done.
        customer.next_followup_on = None
        changed.append(Customer.next_followup_on)
    if grade:
        customer.grade = grade
        changed.append(Customer.grade)
    renewed = renewed_protection(customer, kind, moment) if reached else None
    if renewed is not None and renewed != customer.protected_until:
        # Only real contact keeps the owner's protection alive, as far as the office's policy says.
        customer.protected_until = renewed
        changed.append(Customer.protected_until)
    if reached and kind in MEETING_KINDS and customer.stage == "registered":
        customer.stage = "visited"
        changed.append(Customer.stage)
    return changed


def _record_contact_time(customer: Customer, moment) -> list:
    """The contact at `moment` is the next follow-up of the customer's earlier entries that wait for
    one, and maybe their first follow-up; returns the customer fields that changed."""
    FollowUp.update(next_done_at=moment).where(
        FollowUp.customer == customer.id,
        FollowUp.next_at.is_null(False),
        FollowUp.created_at < moment,
        FollowUp.next_done_at.is_null() | (FollowUp.next_done_at > moment),
    ).execute()
    if customer.first_followup_at is not None and customer.first_followup_at <= moment:
        return []
    customer.first_followup_at = moment
    return [Customer.first_followup_at]


def refresh_followup_times(customer_ids):
    """Work out again, from the follow-ups they hold now, when each due entry of these customers was
    done and their first follow-up: after follow-ups moved between customers, or were written
    other than by add_followup."""
    ids = list(customer_ids)
    later = FollowUp.alias("later")
    next_contact = later.select(fn.MIN(later.created_at)).where(
        later.customer == FollowUp.customer, later.created_at > FollowUp.created_at
    )
    FollowUp.update(next_done_at=next_contact).where(
        FollowUp.customer.in_(ids), FollowUp.next_at.is_null(False)
    ).execute()
    first = FollowUp.select(fn.MIN(FollowUp.created_at)).where(FollowUp.customer == Customer.id)
    Customer.update(first_followup_at=first).where(Customer.id.in_(ids)).execute()


def _audit(customer: Customer, actor: User, action: str, changes: dict, moment):
    AuditLog.on_customer(customer, actor, action, changes, at=moment)


def _followups_with_authors(limited: bool):
    query = (
        FollowUp.select(FollowUp, User.display_name.alias("author_name"))
        .join(User, on=(FollowUp.author == User.id))
        .where(FollowUp.customer == slot())
        .order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
    )
    return query.limit(slot()) if limited else query


_followups = Prepared(lambda: _followups_with_authors(limited=False))
_latest_followups = Prepared(lambda: _followups_with_authors(limited=True))


def timeline_followups(customer: Customer, limit: int | None = None) -> list[FollowUp]:
    """The customer's follow-ups, newest first, each with `corrections` (newest first) filled in."""
    entries = list(_latest_followups.rows(customer.id, limit) if limit else _followups.rows(customer.id))
    by_id = {entry.id: entry for entry in entries}
    for entry in entries:
        entry.corrections = []
    for entry in entries:
        original = by_id.get(entry.corrects_id)
        if original is not None:
            original.corrections.append(entry)
            entry.corrects = original
    return entries
