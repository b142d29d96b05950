"""Who owns a customer: protection periods, the public pool, disputes (撞单)."""

import json
from datetime import timedelta

from villa.models import AuditLog, Channel, Customer, Dispute, Setting, User, now


class OwnershipError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def protection_days(channel: Channel, visit_type: str) -> int:
    """The channel's own period, else the office default for a visit or a call."""
    if channel.protection_days:
        return channel.protection_days
    return int(Setting.read(f"protection_days_{visit_type}", 15 if visit_type == "visit" else 7))


def protection_end(channel: Channel, visit_type: str, start=None):
    return (start or now()) + timedelta(days=protection_days(channel, visit_type))


def is_protected(customer: Customer) -> bool:
    return bool(customer.owner_id and customer.protected_until and customer.protected_until > now())


def record_ownership(customer: Customer, actor: User, action: str, **details):
    """Every ownership change goes to the audit log (and so onto the customer's timeline)."""
    AuditLog.create(
        actor=actor,
        action=action,
        customer=customer,
        target=f"customer:{customer.id}",
        changes=json.dumps(details, ensure_ascii=False),
    )


def take_from_pool(customer: Customer, rep: User, visit_type: str) -> Customer:
    """A rep who registers a customer from the public pool becomes the owner."""
    from flask_babel import lazy_gettext as _l

    if not customer.in_public_pool:
        raise OwnershipError(_l("This customer is not in the public pool."))
    customer.owner = rep
    customer.in_public_pool = False
    customer.protected_until = protection_end(customer.channel, visit_type)
    customer.last_activity_at = now()
    customer.save()
    record_ownership(customer, rep, "pool_taken", owner=rep.username)
    return customer


def open_dispute(customer: Customer, claimant: User, reason: str) -> Dispute:
    """A second rep says the customer is theirs; one open dispute per rep and customer."""
    existing = Dispute.get_or_none(
        Dispute.customer == customer, Dispute.claimant == claimant, Dispute.status == "open"
    )
    if existing:
        return existing
    dispute = Dispute.create(
        customer=customer, claimant=claimant, owner=customer.owner, reason=reason.strip()
    )
    record_ownership(customer, claimant, "dispute_opened", dispute=dispute.id)
    return dispute


DECISIONS = ("keep_owner", "to_claimant")


def disputes_for(manager: User, status: str = "open"):
    """Disputes a manager decides: those touching their team, or reps with no manager."""
    from villa.customers import manages

    rows = (
        Dispute.select()
        .where(Dispute.status == status)
        .order_by(Dispute.opened_at.desc() if status == "decided" else Dispute.opened_at)
    )
    return [d for d in rows if manages(manager, d.claimant) or manages(manager, d.owner)]


def decide_dispute(dispute: Dispute, manager: User, decision: str, note: str) -> Dispute:
    """Record the manager's decision; the customer moves to the claimant when they win."""
    from flask_babel import lazy_gettext as _l

    if dispute.status != "open":
        raise OwnershipError(_l("This dispute has already been decided."))
    if decision not in DECISIONS:
        raise OwnershipError(_l("Choose who keeps the customer."))
    customer = dispute.customer
    if decision == "to_claimant":
        customer.owner = dispute.claimant
        customer.in_public_pool = False
        customer.protected_until = protection_end(customer.channel, customer.visit_type)
        customer.save()
    dispute.status, dispute.decision, dispute.decision_note = "decided", decision, note.strip()
    dispute.decided_by, dispute.decided_at = manager, now()
    dispute.save()
    record_ownership(
        customer,
        manager,
        "dispute_decided",
        dispute=dispute.id,
        decision=decision,
        owner=customer.owner.username,
    )
    return dispute
