from flask import abort, render_template, request
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.customers import (
    FILTERS,
    acknowledge_return_visits,
    can_reveal,
    can_write,
    customer_by_id,
    log_reveal,
    search_customers,
    shown_name,
)
from villa.eligibility import evaluate
from villa.lookups import LookupRefused
from villa.materials import handed_to
from villa.models import Channel, Customer, User
from villa.timeline import EVENT_LABELS, change_value, field_label, timeline
from villa.web.clients import bp
from villa.web.clients.followup_forms import FollowUpForm
from villa.web.clients.reassign_routes import reassign_context

READERS = ("rep", "manager", "auditor", "admin")


@bp.get("/")
@role_required(*READERS)
def index():
    q = request.args.get("q", "")[:60]
    filters = {name: request.args.get(name, "")[:20] for name in FILTERS if request.args.get(name)}
    before = request.args.get("before", type=int)
    status, refused = 200, None
    try:
        customers, next_before = search_customers(current_user, q, before, filters, request.remote_addr or "")
    except LookupRefused as limit:
        customers, next_before, status, refused = [], None, 429, limit.message
    template = "clients/_rows.html" if is_htmx() else "clients/index.html"
    return render_template(
        template,
        customers=customers,
        q=q,
        filters=filters,
        next_before=next_before,
        refused=refused,
        channels=Channel.active_list(),
        reps=User.reps(),
    ), status


@bp.get("/<int:customer_id>")
@role_required(*READERS, "reception")
def detail(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    if current_user.role == "rep" and customer.owner_id == current_user.id:
        acknowledge_return_visits(customer, current_user)
    return render_template("clients/detail.html", **client_page(customer))


@bp.get("/<int:customer_id>/header")
@role_required(*READERS)
def header(customer_id):
    """The title block alone, refreshed after an inline edit changes grade, stage or review."""
    customer = customer_by_id(customer_id) or abort(404)
    return render_template(
        "clients/_header.html", customer=customer, shown_name=shown_name(current_user, customer)
    )


@bp.get("/<int:customer_id>/timeline")
@role_required(*READERS)
def timeline_fragment(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    return render_template("clients/_timeline.html", **client_page(customer))


def client_page(customer: Customer, **extra) -> dict:
    """Everything the client page shows; forms that fail re-render the page with their errors."""
    may_write = can_write(current_user, customer)
    return {
        "customer": customer,
        "shown_name": shown_name(current_user, customer),
        "may_reveal": can_reveal(current_user, customer),
        "may_write": may_write,
        "may_reassign": current_user.role == "manager" and may_write,
        "eligibility": evaluate(customer.hukou_local, customer.social_insurance_months, customer.homes_owned),
        "materials": handed_to(customer),
        "entries": timeline(customer, current_user),
        "event_labels": EVENT_LABELS,
        "field_label": field_label,
        "change_value": change_value,
        "followup_form": extra.pop("followup_form", None) or FollowUpForm(),
        **reassign_context(customer),
        **extra,
    }


@bp.post("/<int:customer_id>/reveal")
@role_required(*READERS)
def reveal(customer_id):
    """Show the full phone and ID number to who may see them, and log that they did."""
    customer = customer_by_id(customer_id) or abort(404)
    if not can_reveal(current_user, customer):
        abort(403)
    fields = ["phone"] + (["id_number"] if customer.id_number else [])
    log_reveal(current_user, customer, fields, request.remote_addr or "")
    return render_template("clients/_contact.html", customer=customer, revealed=True, may_reveal=True)
