"""Customer corrections on the web: the public link page, the QR code for it, and the review list."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from villa import corrections
from villa.auth import role_required
from villa.fields import AREA_BANDS, BUDGET_BANDS, UNIT_TYPES, options
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.identity import mask_name, mask_phone
from villa.labels import PURPOSE_LABELS
from villa.models import ChangeRequest
from villa.profile import EDITABLE, ProfileError
from villa.web.corrections import bp

PUBLIC = ("corrections.public_form", "corrections.public_submit")
REFUSALS = {
    "invalid": (404, _l("This link is not valid. Please check that it was copied completely.")),
    "expired": (410, _l("This link has expired. Please ask your sales consultant for a new one.")),
    "used": (410, _l("This link has been used. Thank you; the sales office is reviewing your corrections.")),
    "gone": (410, _l("This link no longer works. Please ask your sales consultant for a new one.")),
}


def _choices(values, labels=None):
    return options([("", _l("No change")), *((v, (labels or {}).get(v, v)) for v in values if v)])


def _select(label, values, labels=None):
    # The choice is checked with every other rule in villa.corrections, so all messages show at once.
    return SelectField(label, choices=_choices(values, labels), default="", validate_choice=False)


class CorrectionForm(FlaskForm):
    """What a customer may correct; an empty input means "no change". Checked by villa.corrections."""

    name = StringField(_l("Name"))
    phone = StringField(_l("Mobile phone"))
    unit_type = _select(_l("Unit type"), UNIT_TYPES)
    area_band = _select(_l("Area"), AREA_BANDS)
    budget = _select(_l("Budget"), BUDGET_BANDS)
    purpose = _select(_l("Purpose"), PURPOSE_LABELS, PURPOSE_LABELS)
    note = TextAreaField(_l("Anything else to tell us"))


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is it rejected?"),
        validators=[DataRequired(_l("Say why the correction is rejected.")), Length(max=500)],
    )


@bp.before_request
def _limit_public_hits():
    if request.endpoint in PUBLIC and corrections.rate_limited(request.remote_addr or ""):
        abort(429)


@bp.after_request
def _keep_token_out_of_referrers(response):
    if request.endpoint in PUBLIC:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


# The customer's side: no login, the signed link is the only key.


@bp.get("/c/<token>")
def public_form(token):
    return _public_page(corrections.open_link(token), CorrectionForm(formdata=None))


@bp.post("/c/<token>")
def public_submit(token):
    link = corrections.open_link(token)
    form = CorrectionForm()
    if form.validate_on_submit():
        try:
            corrections.submit(link, form.data)
        except corrections.CorrectionError as refused:
            for name, message in refused.errors.items():
                (form[name].errors if name in form else form.form_errors).append(message)
        else:
            return render_template("corrections/thanks.html")
    return _public_page(link, form), 422


@bp.errorhandler(corrections.LinkRefused)
def _refused(refused):
    """A friendly page that says nothing about whose link it was."""
    status, message = REFUSALS[refused.reason]
    return render_template("corrections/refused.html", message=message), status


def _public_page(link, form):
    customer = link.customer
    return render_template(
        "corrections/public.html",
        form=form,
        masked_name=mask_name(customer.name),
        masked_phone=mask_phone(customer.phone),
        needs=[(EDITABLE[n].label, _shown(n, getattr(customer, n))) for n in corrections.NEEDS],
        expires_at=link.expires_at,
    )


# Review: the manager of the owner's team, or the audit team.


@bp.get("/corrections/")
@role_required(*corrections.REVIEWERS)
def index():
    return _review_page()


@bp.post("/corrections/<int:request_id>/approve")
@role_required(*corrections.REVIEWERS)
def approve(request_id):
    change = _reviewable(request_id)
    try:
        corrections.approve(change, current_user._get_current_object())
    except corrections.AlreadyDecided as refused:
        return _review_page(failed_id=change.id, message=refused.errors[""]), 409
    except corrections.CorrectionError as refused:
        return _review_page(failed_id=change.id, message=refused.errors[""]), 422
    except ProfileError as refused:
        message = f"{_label(refused.field)}: {refused.message}"
        return _review_page(failed_id=change.id, message=message), 422
    flash(_("The correction has been applied."), "success")
    return redirect(url_for("corrections.index"), 303)


@bp.post("/corrections/<int:request_id>/reject")
@role_required(*corrections.REVIEWERS)
def reject(request_id):
    change = _reviewable(request_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            corrections.reject(change, current_user._get_current_object(), form.reason.data)
        except corrections.AlreadyDecided as refused:
            return _review_page(failed_id=change.id, message=refused.errors[""]), 409
        flash(_("The correction has been rejected."), "success")
        return redirect(url_for("corrections.index"), 303)
    return _review_page(failed_id=change.id, reject_form=form), 422


def _reviewable(request_id: int) -> ChangeRequest:
    change = ChangeRequest.get_or_none(ChangeRequest.id == request_id) or abort(404)
    if not corrections.may_review(current_user, change.customer):
        abort(403)
    return change


def _review_page(**extra):
    pending = corrections.pending_for(current_user)
    if customer_id := request.args.get("customer", type=int):
        pending = pending.where(ChangeRequest.customer == customer_id)
    return render_template(
        "corrections/index.html",
        pending=[(change, _rows(change), corrections.customer_note(change)) for change in pending.limit(200)],
        reject_form=extra.pop("reject_form", None) or RejectForm(formdata=None),
        **extra,
    )


def _rows(change: ChangeRequest) -> list[tuple]:
    """(label, current, requested) for each field; phones masked on both sides for everyone."""
    customer = change.customer
    return [
        (_label(name), _shown(name, getattr(customer, name)), _shown(name, value))
        for name, value in corrections.requested(change).items()
    ]


def _label(field_name: str):
    spec = EDITABLE.get(field_name)
    return spec.label if spec is not None else field_name


def _shown(field_name: str, value) -> str:
    if not value:
        return "—"
    if field_name == "phone":
        return mask_phone(value)
    if field_name == "purpose":
        return str(PURPOSE_LABELS.get(value, value))
    return str(value)
