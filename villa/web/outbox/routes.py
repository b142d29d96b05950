"""Messages to customers (the outbox): the desk sends by hand what the gateway left, and marks it sent.

The list shows masked names and texts; the number and the full text come with a logged reveal, to
who may send by hand (messaging.sends_by_hand).
"""

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import messaging
from villa.auth import is_htmx, role_required
from villa.customers import log_reveal
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import OutboxMessage
from villa.web.outbox import bp

DESK = ("reception", "manager")
QUEUE_LIMIT = 200
KIND_LABELS = {
    "rejection": _l("Registration needs changes"),
    "approval": _l("Registration approved"),
    "incident": _l("Data incident notice"),
}
STATUS_LABELS = {
    "to_send": _l("To send by hand"),
    "sent": _l("Sent"),
    "failed": _l("Sending failed"),
}
RETRY_NOTES = {
    "sent": _l("The message was sent."),
    "to_send": _l("The message waits for the desk to send it by hand."),
    "failed": _l("Sending failed again."),
}


@dataclass
class Row:
    """One message as this user sees it: the text masked unless revealed, the actions they may take."""

    m: OutboxMessage
    may_send: bool
    revealed: bool
    body: str | None  # None: nothing of the text is shown before the reveal

    @classmethod
    def of(cls, message: OutboxMessage, revealed: bool = False) -> "Row":
        body = message.body if revealed else messaging.masked_body(message)
        return cls(message, messaging.sends_by_hand(current_user, message), revealed, body)


@bp.get("/")
@role_required(*DESK)
def index():
    queue = [Row.of(message) for message in messaging.desk_queue(QUEUE_LIMIT + 1)]
    return render_template(
        "outbox/index.html",
        queue=queue[:QUEUE_LIMIT],
        more_waiting=len(queue) > QUEUE_LIMIT,
        done=[Row.of(message) for message in messaging.recently_done(50)],
        **_labels(),
    )


@bp.post("/<int:message_id>/phone")
@role_required(*DESK)
def reveal_phone(message_id):
    """Show the full number and text of a message still to send, and log that they were shown."""
    message = _sendable(message_id)
    if message.status != "to_send":
        # htmx swaps 4xx answers: the row lands in place, showing why there is no number.
        return (_row(message), 403) if is_htmx() else abort(403)
    log_reveal(current_user._get_current_object(), message.customer, ["phone"], request.remote_addr or "")
    return _row(message, revealed=True)


@bp.post("/<int:message_id>/sent")
@role_required(*DESK)
def mark_sent(message_id):
    message = messaging.mark_sent(_sendable(message_id), current_user._get_current_object())
    return _answer(message, _("Marked as sent."))


@bp.post("/<int:message_id>/retry")
@role_required(*DESK)
def retry(message_id):
    """Hand a message that has not gone out to the gateway again."""
    message = messaging.retry(_sendable(message_id))
    return _answer(message, str(RETRY_NOTES[message.status]))


def _sendable(message_id: int) -> OutboxMessage:
    """The message, when this user may send it by hand; else 404 or 403."""
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id) or abort(404)
    if not messaging.sends_by_hand(current_user, message):
        abort(403)
    return message


def _labels() -> dict:
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS}


def _row(message: OutboxMessage, revealed: bool = False) -> str:
    return render_template("outbox/_row.html", row=Row.of(message, revealed), **_labels())


def _answer(message: OutboxMessage, note: str):
    """htmx gets the row to swap in; a plain form goes back to the list."""
    if is_htmx():
        return _row(message)
    flash(note, "error" if message.status == "failed" else "success")
    return redirect(url_for("outbox.index"), 303)
