from flask import abort, render_template, request
from flask_login import current_user

from villa.auth import is_htmx, role_required
from villa.clients import bp
from villa.customers import acknowledge_return_visits, can_see_full, can_write, log_reveal, search_customers
from villa.eligibility import evaluate
from villa.models import Customer, MaterialGiven, Visit

READERS = ("rep", "manager", "auditor", "admin")


@bp.get("/")
@role_required(*READERS)
def index():
    q = request.args.get("q", "")[:60]
    before = request.args.get("before", type=int)
    customers, next_before = search_customers(current_user, q, before)
    template = "clients/_rows.html" if is_htmx() else "clients/index.html"
    return render_template(template, customers=customers, q=q, next_before=next_before)


@bp.get("/<int:customer_id>")
@role_required(*READERS)
def detail(customer_id):
    customer = Customer.get_or_none(Customer.id == customer_id) or abort(404)
    if current_user.role == "rep" and customer.owner_id == current_user.id:
        acknowledge_return_visits(customer, current_user)
    return render_template(
        "clients/detail.html",
        customer=customer,
        may_reveal=can_see_full(current_user, customer),
        may_write=can_write(current_user, customer),
        eligibility=evaluate(customer.hukou_local, customer.social_insurance_months, customer.homes_owned),
        visits=customer.visits.order_by(Visit.at.desc()),
        materials=customer.materials_given.order_by(MaterialGiven.given_at.desc()),
    )


@bp.post("/<int:customer_id>/reveal")
@role_required(*READERS)
def reveal(customer_id):
    """Show the full phone and ID number to who may see them, and log that they did."""
    customer = Customer.get_or_none(Customer.id == customer_id) or abort(404)
    if not can_see_full(current_user, customer):
        abort(403)
    fields = ["phone"] + (["id_number"] if customer.id_number else [])
    log_reveal(current_user, customer, fields, request.remote_addr or "")
    return render_template("clients/_contact.html", customer=customer, revealed=True, may_reveal=True)
