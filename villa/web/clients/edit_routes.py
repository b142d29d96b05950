"""Changing a customer: one field at a time (the page edits a section at once: section_routes),
the stage, the separate consent.

Each edit works with htmx (partials swapped in place, the header and the timeline entry out of
band) and without JavaScript (a small page, then a 303 back to the client page).
"""

from flask import abort, flash, make_response, redirect, request, url_for
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.client_page import SECTIONS, deal_rows, field_row, shown_value
from villa.clock import now
from villa.customers import can_see_full
from villa.deals import DealRefused, needs_deal, record_deal
from villa.i18n import gettext as _
from villa.models import Customer
from villa.profile import (
    EDITABLE,
    ProfileError,
    change_stage,
    record_sensitive_consent,
    update_field,
)
from villa.web.clients import bp
from villa.web.clients.forms import TYPED_FRESH, StageForm, field_form, submitted_values
from villa.web.clients.routes import partial_response, saved_response, writable_customer
from villa.web.clients.section_routes import form_response, section_form_for

EDITORS = ("rep", "manager")


def _writable(customer_id: int, field_name: str | None = None) -> Customer:
    if field_name is not None and field_name not in EDITABLE:
        abort(404)
    return writable_customer(customer_id)


def _row(customer: Customer, field_name: str):
    return field_row(customer, field_name, True, can_see_full(current_user, customer))


def _form(customer: Customer, field_name: str):
    hint = None
    if field_name in TYPED_FRESH:
        shown = shown_value(customer, field_name, False).text
        hint = _("Now %(value)s. Type the whole new number.", value=shown)
    return field_form(field_name, customer, can_see_full(current_user, customer), hint)


def _form_partial(customer: Customer, field_name: str, form, status: int = 200):
    spec = EDITABLE[field_name]
    context = {"field_name": field_name, "spec": spec, "form": form}
    return partial_response(customer, "clients/_field_form.html", status, **context)


def _saved(customer: Customer, template: str, since, **context):
    if not is_htmx():
        flash(_("Saved."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return saved_response(customer, template, since, **context)


@bp.get("/<int:customer_id>/fields/<field_name>")
@role_required(*EDITORS)
def field_view(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    if not is_htmx():
        return redirect(url_for("clients.detail", customer_id=customer.id))
    return partial_response(customer, "clients/_field.html", row=_row(customer, field_name))


@bp.get("/<int:customer_id>/fields/<field_name>/edit")
@role_required(*EDITORS)
def field_edit(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    return _form_partial(customer, field_name, _form(customer, field_name))


@bp.post("/<int:customer_id>/fields/<field_name>")
@role_required(*EDITORS)
def field_save(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    form = _form(customer, field_name)
    values = submitted_values(field_name, form)
    since = now()
    if values is not None:
        try:
            update_field(customer, current_user._get_current_object(), field_name, values)
        except ProfileError as refused:
            form._fields.get(refused.field, form[field_name]).errors = [refused.message]
            return _form_partial(customer, field_name, form, 422)
    return _saved(customer, "clients/_field.html", since, row=_row(customer, field_name))


@bp.get("/<int:customer_id>/stage")
@role_required(*EDITORS)
def stage_form(customer_id):
    """The move to another stage, loaded when its section of the client page is opened; without
    JavaScript, the stage section open on a page of its own."""
    customer = _writable(customer_id)
    template = "clients/_stage_form.html" if is_htmx() else "clients/_stage.html"
    form = StageForm(customer, formdata=None)
    return partial_response(customer, template, **stage_context(customer), stage_form=form)


def stage_context(customer: Customer) -> dict:
    """What clients/_stage.html shows besides the customer: the deals, and whether to offer changes."""
    return {"may_write": True, "deals": deal_rows(current_user._get_current_object(), customer)}


@bp.post("/<int:customer_id>/stage")
@role_required(*EDITORS)
def stage(customer_id):
    """A move to another stage; to 认筹, 认购 or 签约 it records the deal (villa.deals)."""
    customer = _writable(customer_id)
    form = StageForm(customer)
    since, actor, deal = now(), current_user._get_current_object(), None
    try:
        if needs_deal(form.stage.data):
            deal = record_deal(customer, actor, form.stage.data, form.deal_values())
        else:
            change_stage(customer, actor, form.stage.data, form.lost_reason.data)
    except (ProfileError, DealRefused) as refused:
        errors = refused.errors if isinstance(refused, DealRefused) else {refused.field: refused.message}
        for name, message in errors.items():
            form[name].errors = [message]
        context = stage_context(customer)
        return partial_response(customer, "clients/_stage.html", 422, **context, stage_form=form)
    if deal is not None and deal.status == "pending" and not is_htmx():
        flash(_("The deal is recorded and waits for the manager's confirmation."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return _saved(customer, "clients/_stage.html", since, **stage_context(customer))


@bp.post("/<int:customer_id>/sensitive-consent")
@role_required(*EDITORS)
def sensitive_consent(customer_id):
    """The customer agreed separately to ID and financial details being stored."""
    customer = _writable(customer_id)
    record_sensitive_consent(customer, current_user._get_current_object())
    field_name = request.form.get("field", "")
    field_name = field_name if field_name in EDITABLE else None
    section = request.form.get("section", "")
    if section in SECTIONS:  # back to the section's form, with what the rep had typed
        if is_htmx():
            return form_response(customer, section, section_form_for(customer, section))
        flash(_("The customer's separate consent is recorded."), "success")
        return redirect(url_for("clients.section_edit", customer_id=customer.id, section=section), 303)
    if not is_htmx():
        flash(_("The customer's separate consent is recorded."), "success")
        if field_name:
            return redirect(
                url_for("clients.field_edit", customer_id=customer.id, field_name=field_name), 303
            )
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    if field_name is None:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("clients.detail", customer_id=customer.id)
        return response
    # Back to the form the rep was filling in, with what they had typed.
    return _form_partial(customer, field_name, _form(customer, field_name))
