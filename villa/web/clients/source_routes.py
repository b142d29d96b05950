"""Correcting a customer's source channel or visit type (来访/来电): the owner's manager or the audit
team, with a reason (villa.source_correction). Click-to-edit, like the fields of the page."""

from flask import abort, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from villa.auth import is_htmx, role_required
from villa.clock import now
from villa.customers import customer_by_id
from villa.fields import options
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.labels import VISIT_TYPE_LABELS
from villa.models import Channel, Customer
from villa.source_correction import (
    CORRECTABLE,
    SourceRefused,
    correct_source,
    current_code,
    may_correct_source,
)
from villa.web.clients import bp
from villa.web.clients.routes import partial_response, saved_response

CORRECTORS = ("manager", "auditor")


def each_field(route, path: str, **options):
    """One URL rule per field (…/source/channel, …/source/visit_type), each named in the rule itself:
    the role-matrix tests find a page by its rule."""

    def decorator(view):
        for name in CORRECTABLE:
            view = route(path.replace("FIELD", name), defaults={"field_name": name}, **options)(view)
        return view

    return decorator


class SourceForm(FlaskForm):
    channel = SelectField(_l("Channel"), validate_choice=False)
    visit_type = SelectField(
        _l("Reception type"), choices=options(VISIT_TYPE_LABELS.items()), validate_choice=False
    )
    reason = TextAreaField(
        _l("Reason for the correction"), validators=[Length(max=300)], render_kw={"rows": 2}
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = options((c.code, c.name) for c in Channel.active_list())


def _correctable(customer_id: int) -> Customer:
    customer = customer_by_id(customer_id) or abort(404)
    if not may_correct_source(current_user, customer):
        abort(403)
    return customer


def _form_partial(customer: Customer, field_name: str, form: SourceForm, status: int = 200):
    return partial_response(customer, "clients/_source_form.html", status, field_name=field_name, form=form)


@each_field(bp.get, "/<int:customer_id>/source/FIELD")
@role_required(*CORRECTORS)
def source_view(customer_id, field_name):
    customer = _correctable(customer_id)
    if not is_htmx():
        return redirect(url_for("clients.detail", customer_id=customer.id))
    return partial_response(customer, "clients/_source.html", field_name=field_name, may_correct=True)


@each_field(bp.get, "/<int:customer_id>/source/FIELD/edit")
@role_required(*CORRECTORS)
def source_edit(customer_id, field_name):
    customer = _correctable(customer_id)
    form = SourceForm(formdata=None, data={field_name: current_code(customer, field_name)})
    return _form_partial(customer, field_name, form)


@each_field(bp.post, "/<int:customer_id>/source/FIELD")
@role_required(*CORRECTORS)
def source_save(customer_id, field_name):
    customer = _correctable(customer_id)
    form, since = SourceForm(), now()
    if not form.validate_on_submit():
        return _form_partial(customer, field_name, form, 422)
    try:
        correct_source(
            customer, current_user._get_current_object(), field_name, form[field_name].data, form.reason.data
        )
    except SourceRefused as refused:
        form[refused.field].errors = [refused.message]
        return _form_partial(customer, field_name, form, 422)
    if not is_htmx():
        flash(_("Corrected; the registration is back in review."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    context = {"field_name": field_name, "may_correct": True}
    return saved_response(customer, "clients/_source.html", since, **context)
