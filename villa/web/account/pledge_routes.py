"""The confidentiality pledge: each user reads and accepts the current rules; the audit team sees
who accepted which version, when and from where."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import pledge as rules
from villa.auth import login_required, role_required, safe_next
from villa.i18n import gettext as _
from villa.web.account import bp
from villa.web.account.forms import PledgeForm

READERS = ("auditor", "admin")


@bp.route("/pledge", methods=["GET", "POST"])
@login_required
def pledge():
    user = current_user._get_current_object()
    current = rules.current_pledge()
    if current is None:
        abort(404)
    form = PledgeForm(version=current.id)
    if form.validate_on_submit():
        try:
            rules.accept(user, _version(form.version.data), request.remote_addr or "")
        except rules.PledgeProblem as problem:
            flash(problem.message, "error")
            return redirect(url_for("account.pledge"), 303)
        flash(_("Thank you: your acceptance of the confidentiality rules is recorded."), "success")
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"), 303)
    status = 422 if request.method == "POST" else 200
    due = rules.pending_pledge_id(user) is not None
    return render_template(
        "account/pledge.html", pledge=current, form=form, due=due, last=rules.last_acceptance(user)
    ), status


@bp.get("/pledge/acceptances")
@role_required(*READERS)
def pledge_acceptances():
    current = rules.current_pledge()
    return render_template(
        "account/pledge_acceptances.html",
        pledge=current,
        standings=rules.standings(current) if current else [],
        acceptances=rules.acceptances(),
    )


def _version(raw) -> int:
    return int(raw) if str(raw or "").isdigit() else 0
