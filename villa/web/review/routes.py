"""The review queue and its decisions. Each decision works with htmx (the row goes, or comes back
with its message) and without JavaScript (a 303 back to the queue with a flash)."""

from datetime import timedelta

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from villa import review
from villa.auth import is_htmx, login_required, role_required, safe_next
from villa.customers import can_see_full, customer_by_id
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.i18n import ngettext
from villa.identity import mask_name
from villa.models import Customer, Setting
from villa.timeline import field_label
from villa.web.review import bp
from villa.web.review.forms import BatchForm, DecisionForm, QueueFilterForm, RejectForm

REVIEWERS = ("manager", "auditor")
FILTER_NAMES = ("rep", "channel", "registered_from", "registered_to", "page")
STATUS = {"not_allowed": 403, "already_reviewed": 409, "invalid": 422}


@bp.app_template_global()
def review_age(age: timedelta) -> str:
    """How long the registration has waited, as the queue shows it: days, else hours."""
    if age.days >= 1:
        return ngettext("%(num)d day", "%(num)d days", age.days)
    hours = int(age.total_seconds() // 3600)
    return ngettext("%(num)d hour", "%(num)d hours", hours) if hours else _("under an hour")


@bp.app_template_filter()
def review_field_label(name: str):
    return _l("Channel") if name == "channel" else field_label(name)


@bp.app_template_global()
def review_row_words() -> dict:
    """The words every queue row repeats, translated once per request (a page has 50 rows)."""
    if "review_row_words" not in g:
        g.review_row_words = {
            "customer": _("Customer"),
            "waiting": _("Waiting"),
            "rep_and_channel": _("Rep and channel"),
            "checks": _("Checks"),
            "public_pool": _("Public pool"),
            "list_comma": _(", "),
            "list_semicolon": _("; "),
            "id": _("ID"),
            "consent": _("Consent"),
            "near_duplicates": _("Near-duplicates"),
            "report": _("Pre-registration"),
            "no_report": _(
                "A broker's channel, but no pre-registration was confirmed: the agency was typed by hand."
            ),
            "approve": _("Approve"),
            "reject": _("Reject"),
            "reason": _("Reason"),
            "choose_a_reason": _("Choose a reason"),
            "details": _("Details"),
            "details_optional": _("Details (optional)"),
            "reject_with_reason": _("Reject with this reason"),
        }
        # What a registration may lack (review.COMPLETENESS), as the row lists them.
        labels = {name: str(review_field_label(name)) for name, _test in review.COMPLETENESS}
        comma = g.review_row_words["list_comma"]
        g.review_row_words["field_list"] = lambda names: comma.join(labels[name] for name in names)
    return g.review_row_words


@bp.app_template_global()
def review_queue_args() -> dict:
    """The queue's filters from this request's URL, to come back to the same view (read once per
    request: every row's forms link back with them)."""
    if "review_queue_args" not in g:
        args = request.args
        g.review_queue_args = {name: args[name][:30] for name in FILTER_NAMES if args.get(name)}
    return g.review_queue_args


def _reviewer():
    return current_user._get_current_object()


def _shown(filter_form: QueueFilterForm) -> review.QueuePage:
    """The page of the queue this request's URL asks for (filters and page)."""
    return review.queue(current_user, filter_form.filters(), request.args.get("page", 1, type=int))


def _queue_page(status: int = 200, failed: dict | None = None):
    """The whole queue; `failed` holds a refused rejection's row: id, message and what was typed."""
    filter_form = QueueFilterForm(current_user, formdata=request.args)
    shown = _shown(filter_form)
    customers = shown.customers
    return render_template(
        "review/queue.html",
        customers=customers,
        shown=shown,
        glances=review.glances(customers),
        in_full={c.id for c in customers if can_see_full(current_user, c)},
        filter_form=filter_form,
        level=review.level_for(current_user),
        checklist=Setting.read("review_checklist", []) or [],
        reasons=Setting.read("rejection_reasons", []) or [],
        failed=failed or {},
    ), status


@bp.get("/")
@role_required(*REVIEWERS)
def queue():
    return _queue_page()


def _customer(customer_id: int) -> Customer:
    return customer_by_id(customer_id) or abort(404)


def _name(customer: Customer) -> str:
    """The customer's name as this reviewer may see it."""
    return customer.name if can_see_full(current_user, customer) else mask_name(customer.name)


def _check(customer: Customer, form: DecisionForm):
    """403 unless the record is this user's to review; then a page showing a level the record has
    left gets "already reviewed". In this order, so the answer tells nobody else how it stands."""
    if not review.reviews(current_user, customer):
        abort(403)
    shown = form.level.data
    if shown == review.level_for(current_user) and review.LEVELS.get(shown) != customer.review_status:
        raise review.ReviewRefused(review.ALREADY_REVIEWED, "already_reviewed")
    if not review.may_review(current_user, customer):
        abort(403)


def _refused(customer: Customer, refused: review.ReviewRefused, form: DecisionForm):
    status = STATUS[refused.kind]
    if status == 403:
        abort(403)
    if status == 409 and is_htmx():
        return render_template(
            "review/_stale_row.html", customer=customer, name=_name(customer), message=refused.message
        ), 409
    if is_htmx():
        return _row(customer, refused.message, form), status
    if status == 409:
        flash(refused.message, "error")
        return _queue_page(409)
    return _queue_page(status, {"id": customer.id, "message": refused.message, "form": form})


def _row(customer: Customer, message, form: RejectForm):
    return render_template(
        "review/_row.html",
        c=customer,
        g=review.glance(customer),
        level=review.level_of(customer),
        reasons=Setting.read("rejection_reasons", []) or [],
        failed={"id": customer.id, "message": message, "form": form},
        full=can_see_full(current_user, customer),
    )


def _decided(message):
    # No row, and the queue's counts out of band: the empty body swapped over the row removes it
    # (the forms say swapEmpty, since the body holds an out-of-band part), the numbers drop.
    if is_htmx():
        shown = _shown(QueueFilterForm(current_user, formdata=request.args))
        return render_template("review/_counts.html", shown=shown, oob=True)
    flash(message, "success")
    return redirect(url_for("review.queue", **review_queue_args()), 303)


@bp.post("/<int:customer_id>/approve")
@role_required(*REVIEWERS)
def approve(customer_id):
    form, customer = DecisionForm(), _customer(customer_id)
    try:
        _check(customer, form)
        review.approve(customer, _reviewer())
    except review.ReviewRefused as refused:
        return _refused(customer, refused, form)
    return _decided(_("Approved: %(name)s.", name=_name(customer)))


@bp.post("/<int:customer_id>/reject")
@role_required(*REVIEWERS)
def reject(customer_id):
    form, customer = RejectForm(), _customer(customer_id)
    try:
        _check(customer, form)
        review.reject(customer, _reviewer(), form.full_reason)
    except review.ReviewRefused as refused:
        return _refused(customer, refused, form)
    return _decided(_("Rejected: %(name)s. The rep will fix it.", name=_name(customer)))


@bp.post("/batch")
@role_required(*REVIEWERS)
def batch():
    form = BatchForm()
    ids = [int(value) for value in request.form.getlist(form.ids.name) if value.isdigit()]
    approved, refused = review.batch_approve(ids, _reviewer())
    if approved:
        count = len(approved)
        flash(ngettext("%(num)d registration approved.", "%(num)d registrations approved.", count), "success")
    if refused:
        refusal = ngettext(
            "%(num)d could not be approved: already reviewed, or not yours to review.",
            "%(num)d could not be approved: already reviewed, or not yours to review.",
            len(refused),
        )
        flash(refusal, "error")
    if not ids:
        flash(_("Tick the registrations to approve first."), "error")
    return redirect(url_for("review.queue", **review_queue_args()), 303)


@bp.post("/<int:customer_id>/resubmit")
@login_required
def resubmit(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    back = safe_next(request.form.get("next")) or url_for("clients.detail", customer_id=customer.id)
    try:
        review.resubmit(customer, _reviewer())
    except review.ReviewRefused as refused:
        if refused.kind == "not_allowed":
            abort(403)
        if is_htmx():
            return render_template(
                "review/_resubmitted.html", customer=customer, name=_name(customer), message=refused.message
            ), 409
        flash(refused.message, "error")
        return redirect(back, 303)
    if is_htmx():
        return render_template("review/_resubmitted.html", customer=customer, name=_name(customer))
    flash(_("Sent back to review: %(name)s.", name=_name(customer)), "success")
    return redirect(back, 303)
