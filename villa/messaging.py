"""Telling the customer: messages from editable templates, queued in the outbox, sent by a gateway.

The default gateway sends nothing: it leaves the message "to send by hand" for the desk, which marks
it sent. A real SMS provider is a Gateway subclass named in VILLA_SMS_GATEWAY ("module:Class");
the review code never changes for it.

Sending by hand needs the full number and shows the text with the full name: the desk does it, and a
manager for customers they may see in full; everyone else sees the masked name and a masked text.
"""

import importlib
import logging
import re
from abc import ABC, abstractmethod

from flask import current_app
from peewee import JOIN

from villa.customers import can_reveal
from villa.identity import mask_name
from villa.models import Customer, OutboxMessage, Setting, User, now
from villa.settings import read

log = logging.getLogger("villa.messaging")
KINDS = ("rejection", "approval")
MAX_LENGTH = 140  # two SMS segments of Chinese text
PLACEHOLDER = re.compile(r"\{(name|reason)\}")


class NoPhone(Exception):
    """The customer has no phone on record any more (anonymised): nothing can be sent."""


class Gateway(ABC):
    """Sends one message; returns True when it went out, False when it stays for the desk."""

    name = "gateway"

    @abstractmethod
    def send(self, message: OutboxMessage, phone: str) -> bool: ...


class ManualGateway(Gateway):
    """Records the message as "to send by hand": the desk sends it and marks it sent."""

    name = "manual"

    def send(self, message: OutboxMessage, phone: str) -> bool:
        return False


def gateway() -> Gateway:
    spec = current_app.config.get("SMS_GATEWAY") or ""
    if not spec:
        return ManualGateway()
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def render(kind: str, customer: Customer, reason: str = "") -> str:
    """The message text from the office's template; only the name and the text for the customer
    (customer_text, never the internal reason) go in."""
    templates = Setting.read("message_templates", {}) or {}
    text = templates.get(kind) or "{name}"
    # One pass, so a name or reason that happens to contain "{reason}" or "{name}" stays as typed.
    values = {"name": customer.name, "reason": reason.strip()}
    body = PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
    return body[:MAX_LENGTH]


def customer_text(reason: str) -> str:
    """What the customer is told for a rejection reason: the text the office wrote for the listed
    reason it starts with (the reviewer's details after "：" stay inside), else the default text.
    Never the internal reason."""
    reason = (reason or "").strip()
    texts = read("rejection_customer_texts")
    listed = [r for r in read("rejection_reasons") if reason == r or reason.startswith(f"{r}：")]
    text = texts.get(max(listed, key=len)) if listed else None
    # The template goes on after {reason}, with its own full stop.
    return (text or read("rejection_customer_default")).rstrip("。.！!")


def compose(customer: Customer, kind: str, reason: str = "") -> OutboxMessage | None:
    """Put the message for this review outcome in the outbox (inside the decision's transaction).

    A rejection's internal reason stays inside: the customer reads the office's text for it."""
    if kind == "approval" and not Setting.read("notify_on_approval", False):
        return None
    shown = customer_text(reason) if kind == "rejection" else ""
    return OutboxMessage.create(customer=customer, kind=kind, body=render(kind, customer, shown))


def deliver(message: OutboxMessage) -> OutboxMessage:
    """Hand the message to the configured gateway. Never raises: a provider failure, or a
    gateway that cannot even be loaded, leaves the message "failed" and the review goes on."""
    try:
        sender = gateway()
        message.gateway = sender.name[:40]
        phone = message.customer.phone
        if not phone:
            raise NoPhone()
        sent = sender.send(message, phone)
    except Exception as exc:  # noqa: BLE001 - a provider failure must not undo the review
        # Only the class name: a provider's message may quote the phone number.
        log.warning("gateway failed for message %s: %s", message.id, exc.__class__.__name__)
        message.status, message.error = "failed", exc.__class__.__name__[:200]
        message.save()
        return message
    message.error = ""
    if sent:
        message.status, message.sent_at = "sent", now()
    else:
        message.status = "to_send"
    message.save()
    return message


def retry(message: OutboxMessage) -> OutboxMessage:
    """Run the gateway again for a message that has not gone out; a sent one stays as it is."""
    if message.status == "sent":
        return message
    return deliver(message)


def sends_by_hand(user: User, message: OutboxMessage) -> bool:
    """May this user send the message by hand (see its number and full text, mark it, retry it)?"""
    customer = message.customer
    if customer.anonymised_at:
        return False
    if user.role == "reception":
        return True
    return user.role == "manager" and can_reveal(user, customer)


def masked_body(message: OutboxMessage) -> str | None:
    """The text with the customer's name masked; None when the name it was written with is not the
    customer's name now (renamed since): then nothing of it is shown."""
    name = message.customer.name
    if not name or name not in message.body:
        return None
    return message.body.replace(name, mask_name(name))


def mark_sent(message: OutboxMessage, actor: User) -> OutboxMessage:
    """The desk sent it by hand. Marking it again keeps who sent it first, and when."""
    OutboxMessage.update(status="sent", sent_at=now(), sent_by=actor).where(
        OutboxMessage.id == message.id, OutboxMessage.status != "sent"
    ).execute()
    return OutboxMessage.get_by_id(message.id)


def desk_queue(limit: int = 200):
    """Messages the desk still has to send by hand, oldest first."""
    return (
        _with_people(OutboxMessage.status == "to_send")
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    )


def recently_done(limit: int = 50):
    """The last messages that were sent or failed, newest first."""
    return (
        _with_people(OutboxMessage.status.in_(("sent", "failed")))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )


def _with_people(condition):
    """Messages with their customer, the customer's owner (who may send decides on it) and who sent."""
    owner = User.alias()
    return (
        OutboxMessage.select(OutboxMessage, Customer, owner, User)
        .join(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .switch(OutboxMessage)
        .join(User, JOIN.LEFT_OUTER, on=(OutboxMessage.sent_by == User.id))
        .where(condition)
    )
