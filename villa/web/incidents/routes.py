"""The incident register: open an incident, gather who was affected, tell them, record what was done,
close it, export its record."""

import io
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from villa import incidents
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.incident_export import export_incident
from villa.models import Incident, User, now
from villa.transfer import XLSX_TYPE
from villa.web.incidents import bp
from villa.web.incidents.forms import (
    CloseForm,
    GatherForm,
    IncidentForm,
    NoticeForm,
    PhoneListForm,
    RecordForm,
    shown,
    stored,
)

KEEPERS = incidents.KEEPERS
SHOWN_CUSTOMERS = 200
# The access-log search starts with the week before the incident was found.
SEARCH_BACK = timedelta(days=7)
SOURCES = {"access_log": _l("Access log"), "phone_list": _l("List of phones")}
NOTICE_STATES = {
    "not_drafted": _l("Not drafted"),
    "to_send": _l("To send by hand"),
    "sent": _l("Sent"),
    "failed": _l("Sending failed"),
}
STEPS = {
    "incident_opened": _l("Registered"),
    "incident_customers_added": _l("Affected customers added"),
    "incident_notice_changed": _l("Notice changed"),
    "incident_notices_drafted": _l("Notices put into the outbox"),
    "incident_recorded": _l("Measures, report or responsibility recorded"),
    "incident_closed": _l("Closed"),
    "incident_exported": _l("Record exported"),
}


@bp.get("/")
@role_required(*KEEPERS)
def index():
    listed = Incident.select(Incident, User).join(User, on=(Incident.opened_by == User.id))
    listed = listed.order_by(Incident.closed_at.is_null(False), Incident.opened_at.desc())
    return render_template("incidents/index.html", incidents=listed, counts=incidents.affected_counts())


@bp.route("/new", methods=["GET", "POST"])
@role_required(*KEEPERS)
def open_incident():
    form = IncidentForm()
    if request.method == "GET":
        form.found_at.data = shown(now()).replace(second=0, microsecond=0)
    elif form.validate_on_submit():
        try:
            incident = incidents.open_incident(
                form.what.data, stored(form.found_at.data), form.suspected_scope.data or "", _actor()
            )
        except incidents.IncidentProblem as problem:
            form[problem.field].errors.append(problem.message)
        else:
            flash(_("Incident %(number)d is registered.", number=incident.id), "success")
            return redirect(url_for("incidents.detail", incident_id=incident.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("incidents/new.html", form=form), status


@bp.get("/<int:incident_id>")
@role_required(*KEEPERS)
def detail(incident_id):
    return _detail(_incident(incident_id))


@bp.post("/<int:incident_id>/gather")
@role_required(*KEEPERS)
def gather(incident_id):
    def call(incident, form):
        user, start, end = User.get_by_id(form.user.data), stored(form.start.data), stored(form.end.data)
        return incidents.gather_from_access_log(incident, user, start, end, _actor())

    return _form_step(
        incident_id,
        GatherForm,
        "gather_form",
        call,
        lambda found: _(
            "%(found)d customers in the access log, %(added)d new to this incident.",
            found=found.found,
            added=found.added,
        ),
    )


@bp.post("/<int:incident_id>/phones")
@role_required(*KEEPERS)
def phone_list(incident_id):
    incident, form = _incident(incident_id), PhoneListForm()
    upload = request.files.get("phones")
    if not form.validate_on_submit() or upload is None or not upload.filename:
        form.phones.errors.append(_("Choose the file with the phone numbers."))
        return _detail(incident, phone_form=form), 422
    try:
        report = incidents.add_phone_list(incident, upload.read(), _actor())
    except incidents.IncidentProblem as problem:
        form.phones.errors.append(problem.message)
        return _detail(incident, phone_form=form), 422
    flash(_("%(matched)d customers found, %(added)d new to this incident.", matched=report.matched,
            added=report.added), "success")  # fmt: skip
    status = 422 if report.bad_lines else 200
    return _detail(incident, phone_report=report), status


@bp.post("/<int:incident_id>/notice")
@role_required(*KEEPERS)
def notice(incident_id):
    return _form_step(
        incident_id,
        NoticeForm,
        "notice_form",
        lambda incident, form: incidents.set_template(incident, form.message_template.data or "", _actor()),
        lambda changed: _("The notice is saved.") if changed else _("The notice is unchanged."),
    )


@bp.post("/<int:incident_id>/record")
@role_required(*KEEPERS)
def record(incident_id):
    def call(incident, form):
        return incidents.record(
            incident, {**form.data, "reported_at": stored(form.reported_at.data)}, _actor()
        )

    return _form_step(
        incident_id,
        RecordForm,
        "record_form",
        call,
        lambda changed: _("The record is saved.") if changed else _("Nothing changed."),
    )


@bp.post("/<int:incident_id>/notices")
@role_required(*KEEPERS)
def draft_notices(incident_id):
    return _button_step(
        incident_id,
        lambda incident: incidents.draft_notices(incident, _actor()),
        lambda drafted: _(
            "%(drafted)d notices are in the outbox; %(without)d customers have no phone on record any more.",
            drafted=drafted.drafted,
            without=drafted.without_phone,
        ),
    )


@bp.post("/<int:incident_id>/close")
@role_required(*KEEPERS)
def close(incident_id):
    return _button_step(
        incident_id,
        lambda incident: incidents.close(incident, _actor()),
        lambda _done: _("The incident is closed."),
    )


@bp.get("/<int:incident_id>/export.xlsx")
@role_required(*KEEPERS)
def export(incident_id):
    incident = _incident(incident_id)
    out = io.BytesIO()
    export_incident(incident, _actor(), out, request.remote_addr or "")
    out.seek(0)
    response = send_file(
        out, mimetype=XLSX_TYPE, as_attachment=True, download_name=f"incident-{incident.id}.xlsx"
    )
    response.headers["Cache-Control"] = "no-store"  # it names customers, if masked
    return response


def _form_step(incident_id, form_class, form_name, call, done_message):
    """A step with a form: a form that does not validate, or that the incident refuses at a field,
    comes back next to its fields (422); done, a message and back to the page (303)."""
    incident, form = _incident(incident_id), form_class()
    if not form.validate_on_submit():
        return _detail(incident, **{form_name: form}), 422
    return _step(incident, lambda: call(incident, form), done_message, form, form_name)


def _button_step(incident_id, call, done_message):
    """A step that is one button (the CSRF token only)."""
    incident = _incident(incident_id)
    if not CloseForm().validate_on_submit():
        abort(400)
    return _step(incident, lambda: call(incident), done_message)


def _step(incident, call, done_message, form=None, form_name=""):
    try:
        result = call()
    except incidents.IncidentProblem as problem:
        if form is not None and problem.field in form:
            form[problem.field].errors.append(problem.message)
            return _detail(incident, **{form_name: form}), 422
        flash(problem.message, "error")
        return _detail(incident), 422
    flash(done_message(result), "success")
    return redirect(url_for("incidents.detail", incident_id=incident.id), 303)


def _detail(incident, **forms):
    """The incident's page; a form that was just refused replaces its fresh copy."""
    fresh = {
        "gather_form": GatherForm(formdata=None),
        "phone_form": PhoneListForm(formdata=None),
        "notice_form": NoticeForm(formdata=None, message_template=incident.message_template),
        "record_form": RecordForm(
            formdata=None,
            measures=incident.measures,
            reported_at=shown(incident.reported_at),
            reported_to=incident.reported_to,
            responsible=incident.responsible,
        ),
        "close_form": CloseForm(formdata=None),
    }
    if "gather_form" not in forms:
        fresh["gather_form"].start.data = shown(incident.found_at - SEARCH_BACK).replace(
            second=0, microsecond=0
        )
        fresh["gather_form"].end.data = shown(incident.found_at).replace(second=0, microsecond=0)
    return render_template(
        "incidents/detail.html",
        incident=incident,
        affected=list(incidents.affected(incident, SHOWN_CUSTOMERS)),
        affected_count=incidents.affected_count(incident),
        notices=incidents.notice_counts(incident),
        history=list(incidents.history(incident)),
        phone_report=forms.pop("phone_report", None),
        sources=SOURCES,
        notice_states=NOTICE_STATES,
        step_labels=STEPS,
        **{**fresh, **forms},
    )


def _incident(incident_id: int) -> Incident:
    incident = Incident.get_or_none(Incident.id == incident_id)
    if incident is None:
        abort(404)
    return incident


def _actor():
    return current_user._get_current_object()
