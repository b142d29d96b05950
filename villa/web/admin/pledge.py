"""The confidentiality rules staff accept: the admin writes them; each change is a new version."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import pledge as rules
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.web.admin import bp, section
from villa.web.admin.forms import PledgeTextForm


@bp.route("/pledge", methods=["GET", "POST"])
@role_required("admin")
def pledge():
    current = rules.current_pledge()
    form = PledgeTextForm()
    if request.method == "GET":
        form.text.data = current.text if current else rules.STARTING_TEXT
    elif form.validate_on_submit():
        try:
            published = rules.publish(form.text.data, current_user._get_current_object())
        except rules.PledgeProblem as problem:
            form.text.errors.append(problem.message)
        else:
            flash(
                _("Version %(version)d of the confidentiality rules is published.", version=published.id),
                "success",
            )
            return redirect(url_for("admin.pledge"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/pledge.html", form=form, current=current, versions=rules.versions()), status


section(
    "admin.pledge",
    _l("Confidentiality rules"),
    _l("What every user reads and accepts at the first login, after each change and each year."),
)
