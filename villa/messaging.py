"""Telling the customer: messages from editable templates, queued in the outbox, sent by a gateway.

The default gateway sends nothing: it leaves the message "to send by hand" for the desk, which marks
it sent. A real SMS provider is a Gateway subclass named in VILLA_SMS_GATEWAY ("module:Class");
the review code never changes for it.
"""

import importlib
import logging
from abc import ABC, abstractmethod

from flask import current_app

from villa.models import Customer, OutboxMessage, Setting, User, now

log = logging.getLogger("villa.messaging")
KINDS = ("rejection", "approval")
MAX_LENGTH = 140  # two SMS segments of Chinese text


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
    """The message text from the office's template; only the name and the reason go in."""
    templates = Setting.read("message_templates", {}) or {}
    text = templates.get(kind) or "{name}"
    body = text.replace("{name}", customer.name).replace("{reason}", reason.strip())
    return body[:MAX_LENGTH]


def notify(customer: Customer, kind: str, reason: str = "") -> OutboxMessage | None:
    """Queue the message for this review outcome and hand it to the gateway."""
    if kind == "approval" and not Setting.read("notify_on_approval", False):
        return None
    sender = gateway()
    message = OutboxMessage.create(
        customer=customer, kind=kind, body=render(kind, customer, reason), gateway=sender.name
    )
    try:
        sent = sender.send(message, customer.phone)
    except Exception as exc:  # noqa: BLE001 - a provider failure must not undo the review
        log.warning("gateway %s failed for message %s: %s", sender.name, message.id, exc.__class__.__name__)
        message.status, message.error = "failed", exc.__class__.__name__
        message.save()
        return message
    if sent:
        message.status, message.sent_at = "sent", now()
        message.save()
    return message


def mark_sent(message: OutboxMessage, actor: User) -> OutboxMessage:
    """The desk sent it by hand."""
    message.status, message.sent_at, message.sent_by = "sent", now(), actor
    message.save()
    return message
