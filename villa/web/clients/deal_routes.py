"""A customer's deals on the client page: the manager's confirmation of a 认购 or 签约, and the
cancellation (退筹/退房) with its reason. Recording a deal is the move to its stage (edit_routes)."""

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.clock import now
from villa.customers import customer_by_id
from villa.deals import DealRefused, cancel_deal, confirm_deal, may_cancel, may_confirm
from villa.i18n import gettext as _
from villa.models import Customer, Deal
from villa.web.clients import bp
from villa.web.clients.edit_routes import EDITORS, stage_context
from villa.web.clients.forms import CancelDealForm
from villa.web.clients.routes import partial_response, saved_response


def _deal(customer: Customer, deal_id: int) -> Deal:
    deal = Deal.get_or_none(Deal.id == deal_id, Deal.customer == customer.id) or abort(404)
    deal.customer = customer
    return deal


def _answer(customer: Customer, since, message: str):
    """Back to where the manager came from: the waiting list, or the client page (htmx: its stage block)."""
    if request.form.get("back") == "waiting":
        flash(message, "success")
        return redirect(url_for("deals.waiting"), 303)
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return saved_response(customer, "clients/_stage.html", since, **stage_context(customer))


@bp.post("/<int:customer_id>/deals/<int:deal_id>/confirm")
@role_required("manager")
def confirm_deal_route(customer_id, deal_id):
    customer = customer_by_id(customer_id) or abort(404)
    if not may_confirm(current_user, customer):
        abort(403)
    deal, since = _deal(customer, deal_id), now()
    try:
        confirm_deal(deal, current_user._get_current_object())
    except DealRefused as refused:
        message = " ".join(str(m) for m in refused.errors.values())
        if request.form.get("back") == "waiting":
            flash(message, "error")
            return redirect(url_for("deals.waiting"), 303)
        context = stage_context(customer)
        return partial_response(customer, "clients/_stage.html", 409, **context, deal_error=message)
    return _answer(customer, since, _("The deal is confirmed."))


@bp.post("/<int:customer_id>/deals/<int:deal_id>/cancel")
@role_required(*EDITORS)
def cancel_deal_route(customer_id, deal_id):
    customer = customer_by_id(customer_id) or abort(404)
    deal = _deal(customer, deal_id)
    if not may_cancel(current_user, deal):
        abort(403)
    form, since = CancelDealForm(), now()
    try:
        cancel_deal(deal, current_user._get_current_object(), form.reason.data)
    except DealRefused as refused:
        form.reason.errors = [refused.errors.get("reason") or " ".join(map(str, refused.errors.values()))]
        form.reason.id = f"cancel-reason-{deal.id}"  # one cancel form per deal on the page
        context = stage_context(customer)
        return partial_response(
            customer, "clients/_stage.html", 422, **context, cancel_form=form, cancel_deal_id=deal.id
        )
    return _answer(customer, since, _("The deal is cancelled."))
