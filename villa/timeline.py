"""One customer's story, newest first: visits, follow-ups, changes, reviews and ownership.

Everyone who opens the client page sees that something happened, who did it and when; what was
written or changed (values, notes, contents, reasons) only who may see the customer in full.
"""

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from villa.customers import can_see_full
from villa.followups import timeline_followups
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, Channel, Customer, User, Visit
from villa.prepared import Prepared, slot

# Audit actions shown on the client page, in the office's words. Follow-ups and visits have
# their own rows, so their audit entries are not repeated here.
EVENT_LABELS = {
    "registered": _l("Registered"),
    "field_changed": _l("Profile changed"),
    "stage_changed": _l("Stage changed"),
    "grade_changed": _l("Grade changed"),
    "materials_given": _l("Materials handed over"),
    "released_to_pool": _l("Protection ended: released to the public pool"),
    "pool_claimed": _l("Claimed from the public pool"),
    "pool_taken": _l("Taken from the public pool at the desk"),
    "reassigned": _l("Reassigned by a manager"),
    "handed_over": _l("Handed over: the rep left"),
    "transferred": _l("Moved with others by a manager"),
    "dispute_opened": _l("Dispute opened"),
    "dispute_decided": _l("Dispute decided"),
    "dispute_superseded": _l("Dispute closed: the customer had changed owner since"),
    "source_corrected": _l("Source corrected (channel or visit type)"),
    "sensitive_consent": _l("Separate consent for ID and financial data recorded"),
    "review_approved": _l("Review approved"),
    "review_rejected": _l("Review rejected"),
    "resubmitted": _l("Resubmitted for review"),
    "merged": _l("Merged with a duplicate record"),
    "merge_undone": _l("Merge undone"),
    "archived": _l("Archived (signed, read-only)"),
    "anonymised": _l("Personal data erased"),
    "correction_link_created": _l("Self-service correction link created"),
    "correction_applied": _l("Customer's own correction applied"),
    "deal_recorded": _l("Deal recorded"),
    "deal_confirmed": _l("Deal confirmed by the manager"),
    "deal_cancelled": _l("Deal cancelled"),
}


# Events whose changes name fields: a viewer who may not see the values still sees which fields.
FIELD_EVENTS = ("field_changed", "stage_changed", "grade_changed", "source_corrected")
KIND_ORDER = {"followup": 2, "event": 1, "visit": 0}


@dataclass
class Entry:
    at: datetime
    kind: str  # followup, visit, event
    item: object
    full: bool  # the viewer may read what was written or changed, not only that it happened
    changes: dict | None = None  # an event's changes, as far as the viewer may see them


def _visits_with_people():
    desk, rep = User.alias(), User.alias()
    return (
        Visit.select(Visit, desk.display_name.alias("desk_name"), rep.display_name.alias("rep_name"))
        .join(desk, on=(Visit.received_by == desk.id))
        .switch(Visit)
        .join(rep, JOIN.LEFT_OUTER, on=(Visit.rep == rep.id))
        .where(Visit.customer == slot())
        .order_by(Visit.id.desc())
        .limit(slot())
    )


_visits = Prepared(_visits_with_people)
_events = Prepared(
    lambda: (
        AuditLog.select(AuditLog, User.display_name.alias("actor_name"))
        .join(User, join_type=JOIN.LEFT_OUTER)
        .where(AuditLog.customer == slot(), AuditLog.action.in_([slot() for _ in EVENT_LABELS]))
        .order_by(AuditLog.id.desc())
        .limit(slot())
    )
)


def timeline(customer: Customer, viewer: User, limit: int = 300) -> list[Entry]:
    """Everything that happened to this customer, newest first, as this viewer may see it."""
    full = can_see_full(viewer, customer)
    entries = [Entry(f.created_at, "followup", f, full) for f in timeline_followups(customer, limit)]
    entries += [Entry(v.at, "visit", v, full) for v in _visits.rows(customer.id, limit)]
    entries += [
        Entry(e.at, "event", e, full, shown_changes(e, full))
        for e in _events.rows(customer.id, *EVENT_LABELS, limit)
    ]
    # A follow-up and the grade or stage change it caused share one moment: the follow-up leads.
    entries.sort(key=lambda entry: (entry.at, KIND_ORDER[entry.kind]), reverse=True)
    return entries[:limit]


def shown_changes(event: AuditLog, full: bool) -> dict:
    """The event's changes; without the values for a viewer who may not see the customer in full:
    which fields changed (and whether the record went back to review), nothing else."""
    changes = event.change_map
    if full:
        return changes
    if event.action not in FIELD_EVENTS:
        return {}
    return {name: (value if name == "review" else "changed") for name, value in changes.items()}


def field_label(name: str):
    """The label of a profile field as the client page shows it."""
    from villa.profile import EDITABLE

    extra = {
        "stage": _l("Stage"),
        "grade": _l("Intent grade"),
        "lost_reason": _l("Reason lost"),
        "deal": _l("Deal"),
        "channel": _l("Channel"),
        "visit_type": _l("Reception type"),
        "reason": _l("Reason"),
    }
    spec = EDITABLE.get(name)
    return spec.label if spec is not None else extra.get(name, name)


def change_value(name: str, value):
    """An old or new value from the history, in words (codes become labels)."""
    from villa import labels

    if value is None or value == "":
        return "—"
    tables = {
        "stage": labels.STAGE_LABELS,
        "purpose": labels.PURPOSE_LABELS,
        "gender": labels.GENDER_LABELS,
        "id_type": labels.ID_TYPE_LABELS,
    }
    if name == "hukou_local":
        return _l("Yes") if value else _l("No")
    if name == "deal" and isinstance(value, dict):
        return deal_words(value)
    if name == "channel":
        channel = Channel.get_or_none(Channel.code == value)
        return channel.name if channel else value
    if name == "visit_type":
        return labels.VISIT_TYPE_LABELS.get(value, value)
    return tables.get(name, {}).get(value, value)


def deal_words(deal: dict) -> str:
    """A deal as the audit row keeps it, in words: 签约 · A-12 · 286.5㎡ · ¥12,800,000 · 2026-12-01."""
    from villa import labels

    price = deal.get("price")
    return " · ".join(
        str(part)
        for part in (
            labels.STAGE_LABELS.get(deal.get("stage"), deal.get("stage")),
            deal.get("unit_number"),
            labels.square_metres(deal.get("area")),
            labels.yuan(price) if price is not None else "",
            deal.get("deal_date"),
            labels.PAYMENT_LABELS.get(deal.get("payment"), deal.get("payment")),
        )
        if part
    )


def events_since(customer: Customer, actor: User, moment: datetime) -> list[Entry]:
    """The timeline events this actor wrote on the customer from `moment` on, newest first: what a
    save on the client page adds to the top of its timeline."""
    full = can_see_full(actor, customer)
    query = (
        AuditLog.select(AuditLog, User.display_name.alias("actor_name"))
        .join(User, join_type=JOIN.LEFT_OUTER)
        .where(
            AuditLog.customer == customer.id,
            AuditLog.actor == actor.id,
            AuditLog.at >= moment,
            AuditLog.action.in_(list(EVENT_LABELS)),
        )
        .order_by(AuditLog.id.desc())
        .objects()  # the actor's name as an attribute of the event, as the timeline reads it
    )
    return [Entry(e.at, "event", e, full, shown_changes(e, full)) for e in query]
