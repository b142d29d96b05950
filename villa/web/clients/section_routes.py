"""Editing a section of the client page at once (基本信息, 需求, 购房资格…): one 编辑 opens the
section's fields as one form; a save writes only the fields that changed, with one history row.

Click-to-edit with htmx (display partial ⇄ form partial, the header and the history entry out of
band); without JavaScript the form on a small page of its own, then a 303 back to the client page.
"""

from flask import flash, redirect, url_for
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.client_page import SECTIONS, page_section, shown_value
from villa.clock import now
from villa.i18n import gettext as _
from villa.models import Customer
from villa.profile import EDITABLE, TYPED_FRESH, FieldsRefused, update_fields
from villa.web.clients import bp
from villa.web.clients.forms import section_form, section_values
from villa.web.clients.routes import partial_response, saved_response, writable_customer

EDITORS = ("rep", "manager")
SECTION = "<any({}):section>".format(", ".join(SECTIONS))


def section_form_for(customer: Customer, name: str):
    """The section's form, bound to the request on POST; phone and ID hint at the masked number."""
    numbers = {
        number: shown_value(customer, number, False) for number in TYPED_FRESH if number in SECTIONS[name]
    }
    # A number on record is hinted at masked; with none there ("—") the empty input says enough.
    hints = {
        number: _("Now %(value)s. Leave empty to keep it.", value=shown.text)
        for number, shown in numbers.items()
        if shown.masked
    }
    return section_form(name, customer, hints)


def form_response(customer: Customer, name: str, form, status: int = 200):
    """The section's form (htmx: swapped in place of the section; else on a page of its own)."""
    sensitive = any(EDITABLE[field_name].kind == "sensitive" for field_name in SECTIONS[name])
    context = {"view": _view(customer, name), "form": form, "sensitive": sensitive}
    return partial_response(customer, "clients/_section_form.html", status, **context)


@bp.get(f"/<int:customer_id>/sections/{SECTION}")
@role_required(*EDITORS)
def section_view(customer_id, section):
    """The section as shown: what a cancelled edit swaps back."""
    customer = writable_customer(customer_id)
    if not is_htmx():
        return redirect(url_for("clients.detail", customer_id=customer.id))
    return partial_response(customer, "clients/_section.html", view=_view(customer, section))


@bp.get(f"/<int:customer_id>/sections/{SECTION}/edit")
@role_required(*EDITORS)
def section_edit(customer_id, section):
    customer = writable_customer(customer_id)
    return form_response(customer, section, section_form_for(customer, section))


@bp.post(f"/<int:customer_id>/sections/{SECTION}")
@role_required(*EDITORS)
def section_save(customer_id, section):
    customer = writable_customer(customer_id)
    form = section_form_for(customer, section)
    since = now()
    try:
        update_fields(customer, current_user._get_current_object(), section_values(section, form))
    except FieldsRefused as refused:
        for name, message in refused.errors.items():
            form[name if name in form else SECTIONS[section][0]].errors = [message]
        return form_response(customer, section, form, 422)
    if not is_htmx():
        flash(_("Saved."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return saved_response(customer, "clients/_section.html", since, view=_view(customer, section))


def _view(customer: Customer, name: str):
    return page_section(current_user._get_current_object(), customer, name)
