"""The bell in the top bar and the inbox behind it: every staff user's own notifications."""

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from villa.auth import is_htmx, login_required
from villa.nav import may_open
from villa.notify import inbox
from villa.web.notifications import bp

READ = "notifications-read"  # the event that makes the bell count again


@bp.get("/")
@login_required
def index():
    entries, older = inbox.inbox_page(current_user, request.args.get("before", type=int))
    unread = any(entry.unread for entry in entries)
    may_choose = may_open(current_user, "notifications.preferences")
    return render_template(
        "notifications/inbox.html", entries=entries, older=older, unread=unread, may_choose=may_choose
    )


@bp.get("/bell")
@login_required
def bell():
    """The bell with the count of unread notifications (loaded by each page, after it)."""
    return render_template("notifications/_bell.html", unread=inbox.unread_count(current_user))


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id):
    notification = inbox.mark_read(current_user, notification_id) or abort(404)
    if is_htmx():
        answer = render_template("notifications/_entry.html", entry=inbox.entry(notification))
        return answer, 200, {"HX-Trigger": READ}
    return redirect(url_for("notifications.index"), 303)


@bp.post("/read")
@login_required
def mark_all_read():
    inbox.mark_all_read(current_user)
    return redirect(url_for("notifications.index"), 303)
