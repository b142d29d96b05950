"""Correcting how a customer first came: the source channel and 来访/来电 (visit or call).

Both decide who owns the customer and for how long, so the rep who owns it never changes them: the
owner's manager or the audit team does, with a reason. The correction is on the timeline and sends
the registration back to the first level of review.
"""

from villa.customers import can_write
from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import VISIT_TYPES, AuditLog, Channel, Customer, User, now

CORRECTABLE = ("channel", "visit_type")
REASON_MAX = 300


class SourceRefused(ValueError):
    """The correction is refused; `field` names the form field the message belongs next to."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


def may_correct_source(user: User, customer: Customer) -> bool:
    """The audit team, or a manager who may change the customer (their team's, or an unowned one)."""
    if customer.archived_at or customer.anonymised_at:
        return False
    if user.role == "auditor":
        return True
    return user.role == "manager" and can_write(user, customer)


def current_code(customer: Customer, field_name: str) -> str:
    return customer.channel.code if field_name == "channel" else customer.visit_type


def correct_source(customer: Customer, actor: User, field_name: str, value: str, reason: str) -> Customer:
    """Change the channel (by its code) or the visit type, with the reason, in one transaction."""
    if field_name not in CORRECTABLE or not may_correct_source(actor, customer):
        raise SourceRefused(field_name, _l("You may not correct this customer's source."))
    value, reason = (value or "").strip(), (reason or "").strip()
    if not reason:
        raise SourceRefused("reason", _l("Give the reason for the correction."))
    if len(reason) > REASON_MAX:
        raise SourceRefused("reason", _l("Keep the reason under %(max)d characters.", max=REASON_MAX))
    old = current_code(customer, field_name)
    if field_name == "channel":
        channel = Channel.get_or_none(Channel.code == value, Channel.active == True)  # noqa: E712
        if channel is None:
            raise SourceRefused(field_name, _l("Choose a channel from the list."))
        column, stored = Customer.channel, channel.id
    else:
        if value not in VISIT_TYPES:
            raise SourceRefused(field_name, _l("Choose a walk-in visit or a phone call."))
        column, stored = Customer.visit_type, value
    if value == old:
        raise SourceRefused(field_name, _l("This is what is recorded already: choose the correct one."))
    changes = {field_name: [old, value], "reason": reason}
    moment = now()
    with write_transaction():
        Customer.update(
            {column: stored, Customer.review_status: "pending_first", Customer.updated_at: moment}
        ).where(Customer.id == customer.id).execute()
        if customer.review_status != "pending_first":
            changes["review"] = "resubmitted"
        AuditLog.on_customer(customer, actor, "source_corrected", changes, at=moment)
    setattr(customer, field_name, channel if field_name == "channel" else value)
    customer.review_status, customer.updated_at = "pending_first", moment
    return customer
