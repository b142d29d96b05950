"""Customer self-service corrections: a signed, single-use link, and the review before anything applies.

The link carries a random nonce signed with the app's secret; the database keeps only the nonce's
SHA-256, so someone who reads the database cannot build a working link. What the customer sends
becomes a ChangeRequest; a reviewer applies it field by field through villa.profile.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from peewee import JOIN, SQL, fn
from werkzeug.datastructures import MultiDict

from villa.customers import can_write, manages
from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, ChangeRequest, CorrectionLink, Customer, Setting, User, now
from villa.prepared import Prepared, slot
from villa.profile import current_value, form_class, update_field
from villa.rate_limits import count_hit

SALT = "villa-correction"
# What a customer may correct: who they are and what they are looking for. The rest is the office's.
NEEDS = ("unit_type", "area_band", "budget", "purpose")  # not personal: shown in clear on the link page
CORRECTABLE = ("name", "phone", *NEEDS)
NOTE = "note"  # the customer's free-text message, kept beside the fields and never applied
NOTE_MAX = 500
RATE_LIMIT = 20
RATE_WINDOW = timedelta(minutes=10)
LINK_CREATORS = ("rep", "manager")
REVIEWERS = ("manager", "auditor")


class LinkRefused(Exception):
    """The link cannot be opened. reason: invalid (garbage or forged), expired, used, gone."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CorrectionError(ValueError):
    """Input refused; `errors` maps a form field (or "" for the whole request) to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(message) for message in errors.values()))
        self.errors = errors


class AlreadyDecided(CorrectionError):
    def __init__(self):
        super().__init__({"": _l("This request has already been decided.")})


# Who may do what


def may_create_link(user: User, customer: Customer) -> bool:
    """Those who may change the customer: the owner and their manager.

    A new link voids the customer's earlier ones, so anyone else could break the link the rep gave."""
    return user.role in LINK_CREATORS and can_write(user, customer)


def may_review(user: User, customer: Customer) -> bool:
    """The manager of the owner's team, or the audit team."""
    if user.role == "auditor":
        return True
    return user.role == "manager" and (customer.owner_id is None or manages(user, customer.owner))


# The link


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _link_hours() -> int:
    return int(Setting.read("correction_link_hours", 48))


def create_link(customer: Customer, actor: User) -> tuple[CorrectionLink, str]:
    """A new link for this customer; older unused links stop working. Returns (link, token)."""
    nonce = secrets.token_urlsafe(24)
    moment = now()
    with write_transaction():
        CorrectionLink.update(expires_at=moment).where(
            CorrectionLink.customer == customer,
            CorrectionLink.used_at.is_null(),
            CorrectionLink.expires_at > moment,
        ).execute()
        link = CorrectionLink.create(
            customer=customer,
            nonce=_digest(nonce),
            created_by=actor,
            created_at=moment,
            expires_at=moment + timedelta(hours=_link_hours()),
        )
        AuditLog.create(
            actor=actor,
            action="correction_link_created",
            customer=customer,
            target=f"correction_link:{link.id}",
            changes=json.dumps({"expires_at": link.expires_at.isoformat(timespec="seconds")}),
        )
    return link, _serializer().dumps({"c": customer.id, "n": nonce})


def open_link(token: str) -> CorrectionLink:
    """The link this token names, if it may still be used; else LinkRefused."""
    try:
        payload = _serializer().loads(token, max_age=_link_hours() * 3600)
    except SignatureExpired:
        raise LinkRefused("expired") from None
    except BadSignature:
        raise LinkRefused("invalid") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("n"), str) and "c" in payload):
        raise LinkRefused("invalid")
    link = CorrectionLink.get_or_none(CorrectionLink.nonce == _digest(payload["n"]))
    if link is None:
        raise LinkRefused("gone")
    if not hmac.compare_digest(str(link.customer_id), str(payload["c"])):
        raise LinkRefused("invalid")
    if link.used_at is not None:
        raise LinkRefused("used")
    if link.expires_at <= now():
        raise LinkRefused("expired")
    if link.customer.anonymised_at or link.customer.archived_at:
        raise LinkRefused("gone")
    return link


# What the customer sends


def proposed_changes(customer: Customer, values: Mapping) -> dict:
    """The fields the customer changed, checked by the desk's own rules and normalised.

    Empty inputs mean "no change". Whether a new phone belongs to another customer is left to
    the review: telling an anonymous visitor would reveal who else is registered.
    """
    changes, errors = {}, {}
    for name in CORRECTABLE:
        raw = (values.get(name) or "").strip()
        if not raw:
            continue
        form = form_class(name)(formdata=MultiDict({name: raw}))
        if not form.validate():
            errors[name] = form[name].errors[0]
            continue
        new = form.normal_phone if name == "phone" else (form[name].data or "").strip()
        if new != (current_value(customer, name) or ""):
            changes[name] = new
    if errors:
        raise CorrectionError(errors)
    return changes


def submit(link: CorrectionLink, values: Mapping) -> ChangeRequest:
    """Record the customer's corrections for review and use up the link, in one transaction."""
    note = (values.get(NOTE) or "").strip().replace("\r\n", "\n")
    try:
        changes, errors = proposed_changes(link.customer, values), {}
    except CorrectionError as refused:
        changes, errors = {}, dict(refused.errors)
    if len(note) > NOTE_MAX:
        errors[NOTE] = _l("Keep the message under %(count)d characters.", count=NOTE_MAX)
    if errors:
        raise CorrectionError(errors)
    if not (changes or note):
        raise CorrectionError({"": _l("Nothing was changed. Correct a field or write us a message.")})
    if note:
        changes[NOTE] = note
    moment = now()
    with write_transaction():
        # The conditional update is the single-use guarantee: of two racing submissions, one wins.
        won = (
            CorrectionLink.update(used_at=moment)
            .where(
                CorrectionLink.id == link.id,
                CorrectionLink.used_at.is_null(),
                CorrectionLink.expires_at > moment,
            )
            .execute()
        )
        if not won:
            raise LinkRefused("used")
        return ChangeRequest.create(
            customer=link.customer_id,
            link=link,
            changes=json.dumps(changes, ensure_ascii=False),
            created_at=moment,
        )


def rate_limited(ip: str) -> bool:
    """Count this hit on the public link pages; True once the address has used up its allowance."""
    return count_hit(f"correction:{ip}", RATE_LIMIT, RATE_WINDOW)


# Review


def requested(change: ChangeRequest) -> dict:
    """The requested field values (the customer's note left out)."""
    values = json.loads(change.changes or "{}")
    return {name: values[name] for name in CORRECTABLE if name in values}


def customer_note(change: ChangeRequest) -> str:
    return json.loads(change.changes or "{}").get(NOTE, "")


def pending_for(user: User):
    """Pending requests this reviewer may decide, oldest first."""
    owner = User.alias()
    query = (
        ChangeRequest.select(ChangeRequest, Customer)
        .join(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .where(ChangeRequest.status == "pending")
        .order_by(ChangeRequest.created_at, ChangeRequest.id)
    )
    if user.role == "auditor":
        return query
    if user.role != "manager":
        return query.where(SQL("1 = 0"))
    # manages(): a manager leads their own reps and every rep without a manager.
    return query.where(Customer.owner.is_null() | owner.manager.is_null() | (owner.manager == user.id))


_pending = Prepared(
    lambda: ChangeRequest.select(fn.COUNT(ChangeRequest.id)).where(
        ChangeRequest.customer == slot(), ChangeRequest.status == slot()
    )
)


def pending_count(customer: Customer) -> int:
    return _pending.scalar(customer.id, "pending")


def _decidable(change: ChangeRequest):
    if change.status != "pending":
        raise AlreadyDecided()
    customer = change.customer
    if customer.archived_at or customer.anonymised_at:
        raise CorrectionError(
            {"": _l("This customer is archived or anonymised; corrections no longer apply.")}
        )


def approve(change: ChangeRequest, reviewer: User) -> ChangeRequest:
    """Apply every requested field, or none: the first refusal (ProfileError) rolls all back."""
    _decidable(change)
    customer = Customer.get_by_id(change.customer_id)
    fields = requested(change)
    with write_transaction():
        for name, value in fields.items():
            update_field(customer, reviewer, name, value)
        _decide(change, reviewer, "applied")
        AuditLog.create(
            actor=reviewer,
            action="correction_applied",
            customer=customer,
            target=f"change_request:{change.id}",
            changes=json.dumps({"fields": list(fields)}),
        )
    return change


def reject(change: ChangeRequest, reviewer: User, reason: str) -> ChangeRequest:
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError({"reason": _l("Say why the correction is rejected.")})
    if len(reason) > 500:
        raise CorrectionError({"reason": _l("Keep the reason under 500 characters.")})
    _decidable(change)
    with write_transaction():
        _decide(change, reviewer, "rejected", reason)
        AuditLog.create(
            actor=reviewer,
            action="correction_rejected",
            customer=change.customer_id,
            target=f"change_request:{change.id}",
            changes=json.dumps({"fields": list(requested(change))}),
        )
    return change


def _decide(change: ChangeRequest, reviewer: User, status: str, reason: str = ""):
    # Conditional on "pending", so two reviewers deciding at once cannot both win.
    decided = (
        ChangeRequest.update(status=status, decided_by=reviewer, decided_at=now(), reason=reason)
        .where(ChangeRequest.id == change.id, ChangeRequest.status == "pending")
        .execute()
    )
    if not decided:
        raise AlreadyDecided()
    change.status, change.decided_by, change.reason = status, reviewer, reason
