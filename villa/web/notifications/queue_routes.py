"""The admin's view of the staff outbox: what waits to be sent, what failed and why; retry now."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.notify import outbox
from villa.notify.preferences import CHANNEL_LABELS
from villa.web.admin import section
from villa.web.notifications import bp

KIND_LABELS = {
    "digest": _l("Morning digest"),
    "return_visit": _l("Return visit"),
    "dispute_decided": _l("Dispute decided"),
}
STATUS_LABELS = {
    "queued": _l("Waiting"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "failed": _l("Given up"),
}
RETRIED = {
    "sent": _l("Sent."),
    "queued": _l("It failed again; it will be tried again later."),
    "failed": _l("It failed again."),
    "sending": _l("Another sender is sending it right now."),
}


@bp.get("/queue")
@role_required("admin")
def queue():
    return render_template(
        "notifications/queue.html",
        waiting=list(outbox.waiting()),
        sent=list(outbox.recently_sent()),
        kind_labels=KIND_LABELS,
        channel_labels=CHANNEL_LABELS,
        status_labels=STATUS_LABELS,
        max_attempts=outbox.MAX_ATTEMPTS,
    )


@bp.post("/queue/<int:delivery_id>/retry")
@role_required("admin")
def retry(delivery_id):
    status = outbox.retry_now(delivery_id, current_user._get_current_object())
    if status == "missing":
        abort(404)
    flash(RETRIED.get(status, _("Sent.")), "success" if status == "sent" else "error")
    return redirect(url_for("notifications.queue"), 303)


section(
    "notifications.queue",
    _l("Staff notifications"),
    _l("Reminders on their way by email or WeCom: what waits, what failed and why; retry now."),
)
