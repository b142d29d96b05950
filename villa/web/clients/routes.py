from datetime import datetime

from flask import abort, render_template, request
from flask_login import current_user

from villa import questions
from villa.auth import is_htmx, role_required
from villa.client_page import client_page, contact, saved
from villa.customers import (
    FILTERS,
    acknowledge_return_visits,
    can_reveal,
    can_write,
    customer_by_id,
    filter_owners,
    log_reveal,
    search_customers,
    shown_name,
)
from villa.fields import AREA_BANDS, BUDGET_BANDS, UNIT_TYPES
from villa.lookups import LookupRefused
from villa.models import Channel, Customer
from villa.settings import question_options
from villa.timeline import EVENT_LABELS, change_value, field_label
from villa.web.clients import bp
from villa.web.clients.followup_forms import FollowUpForm
from villa.web.clients.forms import TransferForm
from villa.web.reception.forms import DisputeForm

READERS = ("rep", "manager", "auditor", "admin")
# What the timeline's entries are written with: labels of events and fields, values in words.
TIMELINE_WORDS = {"event_labels": EVENT_LABELS, "field_label": field_label, "change_value": change_value}


@bp.get("/")
@role_required(*READERS)
def index():
    return list_page()


def list_page(status: int = 200, transfer_form=None, ticked=()):
    """The customer list; a manager ticks customers in it to move them (handover_routes)."""
    q = request.args.get("q", "")[:60]
    filters = {name: request.args.get(name, "")[:20] for name in FILTERS if request.args.get(name)}
    filters.update(questions.filters_from(request.args))
    before = request.args.get("before", type=int)
    refused = None
    try:
        customers, next_before = search_customers(current_user, q, before, filters, request.remote_addr or "")
    except LookupRefused as limit:
        customers, next_before, status, refused = [], None, 429, limit.message
    template = "clients/_rows.html" if is_htmx() else "clients/index.html"
    movable = set()
    if current_user.role == "manager":
        movable = {c.id for c in customers if can_write(current_user, c)}
        if transfer_form is None and not is_htmx():
            transfer_form = TransferForm(current_user, formdata=None)
    return render_template(
        template,
        customers=customers,
        movable=movable,
        ticked=set(ticked),
        transfer_form=transfer_form,
        q=q,
        filters=filters,
        next_before=next_before,
        refused=refused,
        channels=Channel.active_list(),
        reps=filter_owners(current_user),
        bands={"budget": BUDGET_BANDS, "unit_type": UNIT_TYPES, "area_band": AREA_BANDS},
        questions={
            name: (label, question_options(name)) for name, (_key, label) in questions.QUESTIONS.items()
        },
    ), status


@bp.get("/<int:customer_id>")
@role_required(*READERS, "reception")
def detail(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    if current_user.role == "rep" and customer.owner_id == current_user.id:
        acknowledge_return_visits(customer, current_user)
    return page_response(customer)


def writable_customer(customer_id: int) -> Customer:
    """The customer, for who may change it: 404 when there is none, 403 for anyone else."""
    customer = customer_by_id(customer_id) or abort(404)
    if not can_write(current_user, customer):
        abort(403)
    return customer


def page_response(customer: Customer, status: int = 200, **forms):
    """The client page, from villa.client_page; a form refused on it comes back in it with its messages.

    The follow-up form is the one form drawn with the page; the stage, reassign and erasure forms
    load when their section is opened.
    """
    page = client_page(current_user._get_current_object(), customer)
    if page.may_write:
        forms.setdefault("followup_form", FollowUpForm(formdata=None, customer=customer))
    if page.card and page.card.may_dispute:
        forms.setdefault("dispute_form", DisputeForm(formdata=None))
    context = {"page": page, "customer": customer, "may_write": page.may_write, **TIMELINE_WORDS}
    return render_template("clients/detail.html", **context, **forms), status


def partial_response(customer: Customer, template: str, status: int = 200, **context):
    """The partial for htmx; without JavaScript, the partial on a small page of its own."""
    if is_htmx():
        return render_template(template, customer=customer, **context), status
    title = shown_name(current_user, customer)
    page = render_template(
        "clients/edit_page.html", partial=template, title=title, customer=customer, **context
    )
    return page, status


def saved_response(customer: Customer, main: str, since: datetime, corrected_id=None, **context):
    """An htmx save's answer (clients/_saved.html): `main`, what changed in place, and out of band
    the header (grade, stage, protection, review may have moved) and the timeline entries the save
    wrote from `since` on."""
    changes = saved(current_user._get_current_object(), customer, since, corrected_id)
    context.update(TIMELINE_WORDS, customer=customer, main=main, saved=changes)
    return render_template("clients/_saved.html", **context)


@bp.post("/<int:customer_id>/reveal")
@role_required(*READERS)
def reveal(customer_id):
    """Show the full phone and ID number to who may see them, and log that they did."""
    customer = customer_by_id(customer_id) or abort(404)
    if not can_reveal(current_user, customer):
        abort(403)
    fields = ["phone"] + (["id_number"] if customer.id_number else [])
    log_reveal(current_user, customer, fields, request.remote_addr or "")
    return render_template(
        "clients/_contact.html", customer=customer, contact=contact(customer, revealed=True)
    )
