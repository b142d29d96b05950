"""Follow-ups logged on the client page: the new row lands on top of the timeline, with the header
and what the follow-up changed (grade, stage, a corrected entry) in the same answer."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from villa import followups
from villa.auth import is_htmx, role_required
from villa.clock import now
from villa.customers import can_see_full
from villa.i18n import gettext as _
from villa.models import FollowUp
from villa.web.clients import bp
from villa.web.clients.followup_forms import FollowUpForm
from villa.web.clients.routes import saved_response, writable_customer

WRITERS = ("rep", "manager")


def _form_response(customer, form, status=200):
    """The form alone for htmx, else inside a page of its own."""
    if is_htmx():
        return render_template("followups/_form.html", followup_form=form, customer=customer), status
    return render_template(
        "followups/form_page.html",
        followup_form=form,
        customer=customer,
        may_reveal=can_see_full(current_user, customer),
    ), status


@bp.post("/<int:customer_id>/followups")
@role_required(*WRITERS)
def add_followup(customer_id):
    customer = writable_customer(customer_id)
    form = FollowUpForm(customer=customer)
    since = now()
    if form.validate_on_submit():
        try:
            followup = followups.add_followup(customer, current_user._get_current_object(), **form.entry())
        except followups.FollowUpError as refused:
            getattr(form, refused.field).errors.append(refused.message)
        else:
            return _added(customer, followup, since)
    return _form_response(customer, form, 422)


def _added(customer, followup, since):
    if not is_htmx():
        flash(_("Follow-up saved."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    followup.corrections = []
    # The new row (and the grade or stage change it made) goes to the top of the timeline; a
    # partial puts a fresh, empty form back; the header and a corrected entry come out of band.
    return saved_response(
        customer,
        "followups/_added.html",
        since,
        corrected_id=followup.corrects_id,
        entries_in_main=True,
        followup=followup,
        followup_form=FollowUpForm(formdata=None, customer=customer),
        may_write=True,
        full=can_see_full(current_user, customer),
    )


@bp.get("/<int:customer_id>/followups/new")
@role_required(*WRITERS)
def new_followup(customer_id):
    """An empty form: to start over, or to give up a correction."""
    customer = writable_customer(customer_id)
    return _form_response(customer, FollowUpForm(formdata=None, customer=customer))


@bp.get("/<int:customer_id>/followups/<int:followup_id>/correct")
@role_required(*WRITERS)
def correct_followup(customer_id, followup_id):
    """The form filled in from an entry, to append its correction."""
    customer = writable_customer(customer_id)
    entry = FollowUp.get_or_none(FollowUp.id == followup_id, FollowUp.customer == customer.id) or abort(404)
    return _form_response(customer, FollowUpForm.correcting(customer, entry))
