from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import settings
from villa.auth import role_required
from villa.broker_accounts import active_brokers
from villa.i18n import gettext as _
from villa.models import Broker, office_today
from villa.report_input import ReportProblem
from villa.reports import STATUS_LABELS, ReportRefused, broker_refusal, broker_reports, make_report
from villa.web.broker import bp
from villa.web.broker.forms import OnBehalfForm, ReportForm


@bp.route("/reports", methods=["GET", "POST"])
@role_required("broker")
def reports():
    """The broker's own 报备 and the form for a new one."""
    broker = Broker.of_user(current_user.id)
    form = ReportForm(expected_visit=office_today().isoformat())
    if request.method == "POST" and form.validate_on_submit():
        answer = _submit(form, broker)
        if answer is None:
            return redirect(url_for("broker.reports"), 303)
        refused, status = answer
        return _page(form, broker, refused), status
    return _page(form, broker, None), 200


def _submit(form, broker, actor=None):
    """Record the 报备; None when done, else (the refusal's message or None, the status)."""
    actor = actor or current_user._get_current_object()
    data = (form.customer_name.data, form.phone.data, form.expected_visit.data)
    try:
        make_report(broker, actor, *data, request.remote_addr or "")
    except ReportProblem as bad:
        for name, message in bad.problems.items():
            form[name].errors.append(message)
        return None, 422
    except ReportRefused as refused:
        return refused.message, refused.status
    flash(_("Pre-registration recorded. Bring the customer before it expires."), "success")
    return None


def _page(form, broker, refused):
    """The broker's page: their 报备 (their own only) and the form, or why they may not report."""
    blocked = broker_refusal(broker)
    return render_template(
        "broker/reports.html",
        form=form,
        refused=refused,
        blocked=blocked.message if blocked else None,
        reports=broker_reports(broker) if broker else [],
        status_labels=STATUS_LABELS,
        **_dates(),
    )


def _dates() -> dict:
    today = office_today()
    return {"today": today.isoformat(), "valid_days": settings.read("report_valid_days")}


@bp.route("/on-behalf", methods=["GET", "POST"])
@role_required("manager")
def on_behalf():
    """Channel staff record a 报备 a broker sent by phone or message."""
    form = OnBehalfForm(brokers=active_brokers(), expected_visit=office_today().isoformat())
    status, refused = 200, None
    if request.method == "POST" and form.validate_on_submit():
        answer = _submit(form, form.chosen_broker())
        if answer is None:
            return redirect(url_for("broker.on_behalf"), 303)
        refused, status = answer
    elif request.method == "POST":
        status = 422
    return render_template("broker/on_behalf.html", form=form, refused=refused, **_dates()), status
