"""The public pool (公客池): reps claim lapsed customers within a quota; managers release them."""

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.customers import customer_by_id
from villa.i18n import gettext as _
from villa.ownership import (
    OwnershipError,
    active_claims,
    claim,
    pool_page,
    pool_quota,
    release_lapsed,
)
from villa.protection import cooldowns
from villa.web.pool import bp

_CURSOR_TIME = "%Y%m%d%H%M%S%f"


def format_cursor(cursor) -> str | None:
    if cursor is None:
        return None
    since, customer_id = cursor
    return f"{since.strftime(_CURSOR_TIME) if since else 'none'}.{customer_id}"


def parse_cursor(value: str | None):
    """The (pool_since, id) a "more" link carries; anything malformed means the first page."""
    since, _, customer_id = (value or "").partition(".")
    if not customer_id.isdigit():
        return None
    if since == "none":
        return None, int(customer_id)
    try:
        return datetime.strptime(since, _CURSOR_TIME), int(customer_id)
    except ValueError:
        return None


@bp.get("/pool/")
@role_required("rep", "manager")
def index():
    return _pool_page(request.args.get("before"))


def _pool_page(before=None, refused=None):
    """The pool page; `refused` is (customer id, why) when a claim on that row was refused."""
    customers, next_cursor = pool_page(parse_cursor(before))
    rep = current_user.role == "rep"
    return render_template(
        "pool/index.html",
        customers=customers,
        next_before=format_cursor(next_cursor),
        quota=pool_quota(),
        claims=active_claims(current_user) if rep else None,
        cooling=cooldowns(customers, current_user) if rep else {},
        refused=refused,
    )


@bp.post("/pool/<int:customer_id>/claim")
@role_required("rep")
def claim_customer(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    try:
        claim(customer, current_user._get_current_object())
    except OwnershipError as refused:
        return _pool_page(request.form.get("before"), (customer.id, refused.message)), 422
    flash(_("%(name)s is now your customer.", name=customer.name), "success")
    return redirect(url_for("clients.detail", customer_id=customer.id), 303)


@bp.post("/pool/release")
@role_required("manager")
def release():
    """Release lapsed protection now, without waiting for the nightly `villa daily`."""
    released = release_lapsed(actor=current_user._get_current_object())
    flash(_("%(count)d customers released to the public pool.", count=len(released)), "success")
    return redirect(url_for("pool.index"), 303)
