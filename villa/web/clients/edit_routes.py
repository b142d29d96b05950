"""Changing a customer on the client page: one field at a time, the stage, the separate consent.

Each edit works with htmx (partials swapped in place) and without JavaScript (a small page, then
a 303 back to the client page).
"""

from typing import NamedTuple

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.customers import can_see_full, can_write, customer_by_id
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.identity import mask_id_number, mask_name, mask_phone
from villa.labels import GENDER_LABELS, ID_TYPE_LABELS, PURPOSE_LABELS
from villa.models import Customer
from villa.profile import (
    EDITABLE,
    ProfileError,
    change_stage,
    current_value,
    record_sensitive_consent,
    update_field,
)
from villa.web.clients import bp
from villa.web.clients.forms import TYPED_FRESH, StageForm, field_form, submitted_values

EDITORS = ("rep", "manager")
HIDDEN = "••••"
# Sent with every saved change, so other parts of the page (header, timeline) can refresh.
CHANGED_EVENT = "customer-changed"


class Shown(NamedTuple):
    text: str
    masked: bool = False


@bp.app_template_global()
def profile_field(field_name: str):
    return EDITABLE[field_name]


@bp.app_template_global()
def field_display(customer: Customer, field_name: str, may_reveal: bool) -> Shown:
    """A field's value as this viewer may see it: phone and ID always masked (reveal is separate)."""
    value = current_value(customer, field_name)
    if field_name == "id_number":
        id_type, number = value
        if not number:
            return Shown("—")
        return Shown(f"{ID_TYPE_LABELS.get(id_type, id_type)} {mask_id_number(number)}", True)
    if value is None or value == "":
        return Shown("—")
    if field_name in ("phone", "alt_phone"):
        return Shown(mask_phone(value), True)
    if field_name == "name":
        return Shown(value) if may_reveal else Shown(mask_name(value), True)
    if EDITABLE[field_name].hidden_from_others and not may_reveal:
        return Shown(HIDDEN, True)
    labels = {"gender": GENDER_LABELS, "purpose": PURPOSE_LABELS}.get(field_name)
    if labels:
        return Shown(str(labels.get(value, value)))
    if field_name == "hukou_local":
        return Shown(str(_l("Yes") if value else _l("No")))
    return Shown(str(value))


@bp.app_template_global()
def new_stage_form(customer: Customer) -> StageForm:
    return StageForm(customer, formdata=None)


def _writable(customer_id: int, field_name: str | None = None) -> Customer:
    customer = customer_by_id(customer_id) or abort(404)
    if field_name is not None and field_name not in EDITABLE:
        abort(404)
    if not can_write(current_user, customer):
        abort(403)
    return customer


def _display(customer: Customer, field_name: str):
    return render_template(
        "clients/_field.html",
        customer=customer,
        field_name=field_name,
        may_write=True,
        may_reveal=can_see_full(current_user, customer),
    )


def _form(customer: Customer, field_name: str):
    hint = None
    if field_name in TYPED_FRESH:
        shown = field_display(customer, field_name, False).text
        hint = _("Now %(value)s. Type the whole new number.", value=shown)
    return field_form(field_name, customer, can_see_full(current_user, customer), hint)


def _partial(template: str, status: int = 200, **context):
    """The partial for htmx; without JavaScript, the partial on a small page of its own."""
    if is_htmx():
        return render_template(template, **context), status
    return render_template("clients/edit_page.html", partial=template, **context), status


def _saved(customer: Customer, template: str, **context):
    if not is_htmx():
        flash(_("Saved."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    response = make_response(render_template(template, customer=customer, **context))
    response.headers["HX-Trigger"] = CHANGED_EVENT
    return response


@bp.get("/<int:customer_id>/fields/<field_name>")
@role_required(*EDITORS)
def field_view(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    if not is_htmx():
        return redirect(url_for("clients.detail", customer_id=customer.id))
    return _display(customer, field_name)


@bp.get("/<int:customer_id>/fields/<field_name>/edit")
@role_required(*EDITORS)
def field_edit(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    form = _form(customer, field_name)
    return _partial("clients/_field_form.html", customer=customer, field_name=field_name, form=form)


@bp.post("/<int:customer_id>/fields/<field_name>")
@role_required(*EDITORS)
def field_save(customer_id, field_name):
    customer = _writable(customer_id, field_name)
    form = _form(customer, field_name)
    values = submitted_values(field_name, form)
    if values is not None:
        try:
            update_field(customer, current_user._get_current_object(), field_name, values)
        except ProfileError as refused:
            form._fields.get(refused.field, form[field_name]).errors = [refused.message]
            context = {"customer": customer, "field_name": field_name, "form": form}
            return _partial("clients/_field_form.html", 422, **context)
    may_reveal = can_see_full(current_user, customer)
    return _saved(
        customer, "clients/_field.html", field_name=field_name, may_write=True, may_reveal=may_reveal
    )


@bp.post("/<int:customer_id>/stage")
@role_required(*EDITORS)
def stage(customer_id):
    customer = _writable(customer_id)
    form = StageForm(customer)
    try:
        change_stage(customer, current_user._get_current_object(), form.stage.data, form.lost_reason.data)
    except ProfileError as refused:
        form[refused.field].errors = [refused.message]
        return _partial("clients/_stage.html", 422, customer=customer, may_write=True, stage_form=form)
    return _saved(customer, "clients/_stage.html", may_write=True, stage_form=new_stage_form(customer))


@bp.post("/<int:customer_id>/sensitive-consent")
@role_required(*EDITORS)
def sensitive_consent(customer_id):
    """The customer agreed separately to ID and financial details being stored."""
    customer = _writable(customer_id)
    record_sensitive_consent(customer, current_user._get_current_object())
    field_name = request.form.get("field", "")
    field_name = field_name if field_name in EDITABLE else None
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
    form = _form(customer, field_name)
    return _partial("clients/_field_form.html", customer=customer, field_name=field_name, form=form)
