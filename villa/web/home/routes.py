"""Each role's home page: what that person needs first when they pick up the tablet."""

from flask import redirect, render_template, url_for
from flask_login import current_user

from villa.alerts import describe
from villa.auth import login_required
from villa.home import home_summary
from villa.models import office_today
from villa.web.home import bp


@bp.get("/")
@login_required
def index():
    # The receptionist's day is the desk: the rotation and today's visits and calls.
    if current_user.role == "reception":
        return redirect(url_for("reception.desk"))
    return render_template(
        "home.html",
        summary=home_summary(current_user),
        describe_alert=describe,
        today_iso=office_today().isoformat(),
    )
