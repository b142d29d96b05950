"""Reassigning a customer to another rep (a manager, with a reason) from the client page."""

from flask import flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from villa.auth import is_htmx, role_required
from villa.fields import options
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import Customer, User
from villa.ownership import OwnershipError, reassign, reassignable_reps
from villa.web.clients import bp
from villa.web.clients.routes import partial_response, writable_customer


class ReassignForm(FlaskForm):
    owner_id = SelectField(
        _l("New owner"), validate_choice=False, validators=[InputRequired(_l("Choose the new owner."))]
    )
    reason = TextAreaField(
        _l("Reason for the reassignment"),
        validators=[DataRequired(_l("Give the reason for the reassignment.")), Length(max=500)],
    )

    def __init__(self, customer: Customer, manager: User, **kwargs):
        super().__init__(**kwargs)
        reps = [rep for rep in reassignable_reps(manager) if rep.id != customer.owner_id]
        self.owner_id.choices = options(
            [("", _l("Choose a sales rep"))] + [(str(r.id), f"{r.display_name} ({r.username})") for r in reps]
        )


@bp.get("/<int:customer_id>/reassign")
@role_required("manager")
def reassign_form(customer_id):
    """The reassign form, loaded when its section of the client page is opened."""
    customer = writable_customer(customer_id)
    form = ReassignForm(customer, current_user, formdata=None)
    return partial_response(customer, "clients/_reassign.html", reassign_form=form)


@bp.post("/<int:customer_id>/reassign")
@role_required("manager")
def reassign_customer(customer_id):
    customer = writable_customer(customer_id)
    form = ReassignForm(customer, current_user)
    if form.validate_on_submit():
        new_owner = (
            User.get_or_none(User.id == int(form.owner_id.data)) if form.owner_id.data.isdigit() else None
        )
        try:
            reassign(customer, current_user._get_current_object(), new_owner, form.reason.data)
        except OwnershipError as refused:
            form.owner_id.errors = [refused.message]
        else:
            flash(
                _("%(name)s now belongs to %(owner)s.", name=customer.name, owner=new_owner.display_name),
                "success",
            )
            return _to_client_page(customer)
    if is_htmx():
        return render_template("clients/_reassign.html", customer=customer, reassign_form=form), 422
    for message in form.owner_id.errors + form.reason.errors:
        flash(message, "error")
    return _to_client_page(customer)


def _to_client_page(customer: Customer):
    target = url_for("clients.detail", customer_id=customer.id)
    if is_htmx():
        # A redirect would be followed and the whole page swapped into the form's place.
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)
