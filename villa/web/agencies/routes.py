"""Agencies and brokers as records: list, add, change, deactivate (admin and sales managers)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import agencies as office
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.models import Agency, Broker
from villa.web.agencies import bp
from villa.web.agencies.forms import AgencyForm, BrokerEditForm, BrokerForm

KEEPERS = ("manager", "admin")


@bp.route("/", methods=["GET", "POST"])
@role_required(*KEEPERS)
def index():
    form = AgencyForm()
    if form.validate_on_submit():
        try:
            agency = office.add_agency(form.data, _actor())
        except office.AgencyProblem as refused:
            _place(form, refused.errors)
        else:
            flash(_("Agency added: %(name)s", name=agency.name), "success")
            return redirect(url_for("agencies.index"), 303)
    return _agencies_page(form), 422 if request.method == "POST" else 200


@bp.route("/<int:agency_id>", methods=["GET", "POST"])
@role_required(*KEEPERS)
def edit_agency(agency_id):
    agency = Agency.get_or_none(Agency.id == agency_id) or abort(404)
    form = AgencyForm(obj=agency) if request.method == "GET" else AgencyForm()
    if form.validate_on_submit():
        try:
            office.change_agency(agency, form.data, _actor())
        except office.AgencyProblem as refused:
            _place(form, refused.errors)
        else:
            flash(_("Agency saved: %(name)s", name=agency.name), "success")
            return redirect(url_for("agencies.index"), 303)
    return _agencies_page(AgencyForm(formdata=None), editing=agency, edit_form=form), (
        422 if request.method == "POST" else 200
    )


@bp.post("/<int:agency_id>/<any(deactivate, reactivate):change>")
@role_required(*KEEPERS)
def set_agency_active(agency_id, change):
    agency = Agency.get_or_none(Agency.id == agency_id) or abort(404)
    if office.set_agency_active(agency, change == "reactivate", _actor()):
        if agency.active:
            flash(_("Agency reactivated: %(name)s", name=agency.name), "success")
        else:
            flash(_("Agency deactivated: %(name)s", name=agency.name), "success")
    return redirect(url_for("agencies.index"), 303)


@bp.route("/brokers", methods=["GET", "POST"])
@role_required(*KEEPERS)
def brokers():
    shown = _agency_filter()
    form = BrokerForm(office.active_agencies())
    if request.method == "GET" and shown is not None:
        form.agency.data = str(shown.id)
    if form.validate_on_submit():
        try:
            broker = office.add_broker(form.data, _actor())
        except office.AgencyProblem as refused:
            _place(form, refused.errors)
        else:
            flash(_("Broker added: %(name)s", name=broker.name), "success")
            return redirect(url_for("agencies.brokers", agency=broker.agency_id), 303)
    return _brokers_page(form, shown), 422 if request.method == "POST" else 200


@bp.route("/brokers/<int:broker_id>", methods=["GET", "POST"])
@role_required(*KEEPERS)
def edit_broker(broker_id):
    broker = Broker.get_or_none(Broker.id == broker_id) or abort(404)
    broker.phone_shown = office.shown_phone(broker)
    choices = _agencies_for(broker)
    if request.method == "GET":
        form = BrokerEditForm(choices, data={"agency": str(broker.agency_id), "name": broker.name})
    else:
        form = BrokerEditForm(choices)
    if form.validate_on_submit():
        try:
            office.change_broker(broker, form.data, _actor())
        except office.AgencyProblem as refused:
            _place(form, refused.errors)
        else:
            flash(_("Broker saved: %(name)s", name=broker.name), "success")
            return redirect(url_for("agencies.brokers", agency=broker.agency_id), 303)
    page = _brokers_page(BrokerForm(office.active_agencies(), formdata=None), None, broker, form)
    return page, 422 if request.method == "POST" else 200


@bp.post("/brokers/<int:broker_id>/<any(deactivate, reactivate):change>")
@role_required(*KEEPERS)
def set_broker_active(broker_id, change):
    broker = Broker.get_or_none(Broker.id == broker_id) or abort(404)
    if office.set_broker_active(broker, change == "reactivate", _actor()):
        if broker.active:
            flash(_("Broker reactivated: %(name)s", name=broker.name), "success")
        elif broker.user_id:
            message = _("Broker deactivated: %(name)s. Their login no longer works.", name=broker.name)
            flash(message, "success")
        else:
            flash(_("Broker deactivated: %(name)s", name=broker.name), "success")
    return redirect(url_for("agencies.brokers", agency=broker.agency_id), 303)


def _agencies_page(form, editing=None, edit_form=None):
    return render_template(
        "agencies/index.html",
        agencies=office.agencies_listed(),
        form=form,
        editing=editing,
        edit_form=edit_form,
    )


def _brokers_page(form, shown, editing=None, edit_form=None):
    return render_template(
        "agencies/brokers.html",
        brokers=office.brokers_listed(shown.id if shown else None),
        agencies=office.agencies_listed(),
        shown=shown,
        form=form,
        editing=editing,
        edit_form=edit_form,
    )


def _agency_filter() -> Agency | None:
    value = request.args.get("agency", "")
    return Agency.get_or_none(Agency.id == int(value)) if value.isdigit() and len(value) < 18 else None


def _agencies_for(broker: Broker) -> list[Agency]:
    """The active agencies, and the broker's own even when it is deactivated."""
    listed = office.active_agencies()
    if all(agency.id != broker.agency_id for agency in listed):
        listed.append(broker.agency)
    return listed


def _place(form, errors):
    for field, message in errors.items():
        form[field].errors = [*form[field].errors, message]


def _actor():
    return current_user._get_current_object()
