"""Sending staff notifications after the action's commit: claim a delivery, send it, record how it went.

A sender claims a delivery with one UPDATE from "queued" to "sending"; only one sender's UPDATE
finds it queued, so two senders (cron and the request, two cron runs) never both send it. A failed
attempt goes back to "queued" for later, waiting twice as long each time (1 minute up to an hour),
and is given up ("failed") after MAX_ATTEMPTS or at once when trying again cannot help; the admin
sees the error and may retry. A sender that stopped mid-send leaves its claim to run out: that
delivery is then marked failed, not sent again (it may have arrived).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_app_context
from peewee import JOIN

from villa.clock import now
from villa.i18n import force_locale
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, Notification, NotificationDelivery, User
from villa.notify.channels import TIMEOUT_SECONDS, NotifierFailure, Outgoing
from villa.notify.mail import EmailNotifier
from villa.notify.messages import test_texts, texts
from villa.notify.preferences import preference_of
from villa.notify.wecom import WecomNotifier

log = logging.getLogger("villa.notify")
NOTIFIERS = {"email": EmailNotifier, "wecom": WecomNotifier}
MAX_ATTEMPTS = 10
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
HOLD = timedelta(minutes=5)  # how long a claim lasts: far beyond one attempt's timeout
OFFICE_LOCALE = "zh_Hans"  # what leaves the building is in the office's language
INTERRUPTED = _l("A sender stopped while sending it: it may have arrived. Retry only if it did not.")


def wait_after(attempts: int) -> timedelta:
    """How long a delivery waits after its n-th failed attempt."""
    return min(FIRST_WAIT * 2 ** (attempts - 1), LONGEST_WAIT)


@dataclass
class Sent:
    """What one run of the sender did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    interrupted: int = 0

    def line(self) -> str:
        return f"staff notifications: {self.sent} sent, {self.retrying} to retry, {self.failed} given up" + (
            f", {self.interrupted} interrupted earlier" if self.interrupted else ""
        )

    @property
    def anything(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.interrupted)


OUTCOMES = {"sent": "sent", "queued": "retrying", "failed": "failed"}  # an attempt's outcome, counted


def send_due(moment=None, limit: int = 500) -> Sent:
    """Send every delivery that is due (cron: `villa notify-send`, and the end of `villa daily`)."""
    moment = moment or now()
    with force_locale(OFFICE_LOCALE):
        interrupted = (
            NotificationDelivery.update(status="failed", error=str(INTERRUPTED)[:200], claimed_until=None)
            .where(NotificationDelivery.status == "sending", NotificationDelivery.claimed_until < moment)
            .execute()
        )
    due = (
        NotificationDelivery.select(NotificationDelivery.id)
        .where(NotificationDelivery.status == "queued", NotificationDelivery.next_attempt_at <= moment)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    report = _send([row.id for row in due], moment)
    report.interrupted = interrupted
    return report


def send_soon(notification_ids: list[int]) -> Sent:
    """Send these notifications' deliveries now (after the request that wrote them); best effort."""
    moment = now()
    due = NotificationDelivery.select(NotificationDelivery.id).where(
        NotificationDelivery.notification.in_(notification_ids),
        NotificationDelivery.status == "queued",
        NotificationDelivery.next_attempt_at <= moment,
    )
    return _send([row.id for row in due], moment)


def retry_now(delivery_id: int, actor: User) -> str:
    """The admin's "retry now": one attempt at once, whether it was waiting or given up.
    Returns the delivery's status afterwards."""
    moment = now()
    if not claim(delivery_id, moment, given_up_too=True):
        row = NotificationDelivery.get_or_none(NotificationDelivery.id == delivery_id)
        return row.status if row else "missing"
    AuditLog.create(actor=actor, action="notification_retried", target=f"notification_delivery:{delivery_id}")
    with force_locale(OFFICE_LOCALE):
        return _attempt(delivery_id, moment, _notifiers())


def claim(delivery_id: int, moment, given_up_too: bool = False) -> bool:
    """Take the delivery for this sender: True for exactly one of any senders asking at once."""
    statuses = ("queued", "failed") if given_up_too else ("queued",)
    query = NotificationDelivery.update(
        status="sending", attempts=NotificationDelivery.attempts + 1, claimed_until=moment + HOLD
    ).where(NotificationDelivery.id == delivery_id, NotificationDelivery.status.in_(statuses))
    if not given_up_too:
        query = query.where(NotificationDelivery.next_attempt_at <= moment)
    return query.execute() == 1


def _send(delivery_ids: list[int], moment) -> Sent:
    report = Sent()
    if not delivery_ids:
        return report
    notifiers = _notifiers()
    with force_locale(OFFICE_LOCALE):
        for delivery_id in delivery_ids:
            if claim(delivery_id, moment):
                counter = OUTCOMES[_attempt(delivery_id, moment, notifiers)]
                setattr(report, counter, getattr(report, counter) + 1)
    return report


def _attempt(delivery_id: int, moment, notifiers: dict) -> str:
    """Send a claimed delivery once and record the outcome: "sent", "queued" (to retry) or "failed"."""
    delivery = (
        NotificationDelivery.select(NotificationDelivery, Notification, User)
        .join(Notification)
        .join(User)
        .where(NotificationDelivery.id == delivery_id)
        .get()
    )
    recipient = delivery.notification.recipient
    try:
        if not recipient.active:
            raise NotifierFailure(_l("The user is disabled."), permanent=True)
        notifier = notifiers[delivery.channel]
        preference = preference_of(recipient.id)
        mention = preference.wecom_user_id if preference else ""
        notifier.send(outgoing(delivery), notifier.address_for(recipient, preference), mention)
    except NotifierFailure as failure:
        return _record_failure(delivery, failure, moment)
    except Exception as exc:  # noqa: BLE001 - a channel's own bug must not stop the other deliveries
        failure = NotifierFailure(_l("Sending failed (%(error)s).", error=exc.__class__.__name__))
        return _record_failure(delivery, failure, moment)
    NotificationDelivery.update(status="sent", sent_at=now(), error="", claimed_until=None).where(
        NotificationDelivery.id == delivery.id, NotificationDelivery.status == "sending"
    ).execute()
    return "sent"


def _record_failure(delivery: NotificationDelivery, failure: NotifierFailure, moment) -> str:
    give_up = failure.permanent or delivery.attempts >= MAX_ATTEMPTS
    status = "failed" if give_up else "queued"
    error = str(failure.message)[:200]
    # Only the id, the channel and our own words: the error never quotes an address or a name.
    log.warning("staff notification %s by %s, attempt %d: %s", delivery.id, delivery.channel,
                delivery.attempts, error)  # fmt: skip
    NotificationDelivery.update(
        status=status, error=error, claimed_until=None, next_attempt_at=moment + wait_after(delivery.attempts)
    ).where(NotificationDelivery.id == delivery.id, NotificationDelivery.status == "sending").execute()
    return status


def outgoing(delivery: NotificationDelivery) -> Outgoing:
    """The delivery's text as it leaves the building."""
    notification = delivery.notification
    subject, text = texts(notification)
    key = f"villa-notification-{notification.id}-{delivery.channel}"
    return Outgoing(key=key, subject=subject, text=text, for_whom=notification.recipient.display_name)


def _timeout() -> float:
    if not has_app_context():
        return TIMEOUT_SECONDS
    return current_app.config.get("NOTIFY_TIMEOUT_SECONDS", TIMEOUT_SECONDS)


def _notifiers() -> dict:
    return {channel: notifier.from_settings(_timeout()) for channel, notifier in NOTIFIERS.items()}


# Testing a channel from the settings pages: one test message, sent at once; NotifierFailure if not.


def test_email(server: dict, password: str, recipient: str):
    _send_test(EmailNotifier(server, password, _timeout()), recipient)


def test_robot(address: str, mention: str = ""):
    _send_test(WecomNotifier(_timeout()), address, mention)


def _send_test(notifier, address: str, mention: str = ""):
    subject, text = test_texts()
    message = Outgoing(key=f"villa-test-{now():%Y%m%d%H%M%S%f}", subject=subject, text=text)
    notifier.send(message, address, mention)


# The admin's view of the queue.


def waiting(limit: int = 200):
    """Deliveries not sent yet (waiting, being sent, given up), newest first, with their user."""
    return _with_recipient(NotificationDelivery.status != "sent").limit(limit)


def recently_sent(limit: int = 50):
    return _with_recipient(NotificationDelivery.status == "sent").limit(limit)


def waiting_count() -> int:
    """Deliveries still to send: the length of the staff outbox."""
    return NotificationDelivery.select().where(NotificationDelivery.status.in_(("queued", "sending"))).count()


def _with_recipient(condition):
    return (
        NotificationDelivery.select(NotificationDelivery, Notification, User)
        .join(Notification)
        .join(User, JOIN.INNER)
        .where(condition)
        .order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id.desc())
    )
