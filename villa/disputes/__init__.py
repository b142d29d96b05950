"""Disputes (撞单): the managers' list, and their decisions."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from villa.auth import role_required
from villa.customers import manages
from villa.fields import options
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import Dispute
from villa.ownership import OwnershipError, decide_dispute, disputes_for

bp = Blueprint("disputes", __name__, url_prefix="/disputes")

DECISION_LABELS = {
    "keep_owner": _l("The owner keeps the customer"),
    "to_claimant": _l("The customer goes to the claimant"),
}


class DecisionForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=options(DECISION_LABELS.items()),
        validators=[InputRequired(_l("Choose who keeps the customer."))],
    )
    note = TextAreaField(_l("Reason for the decision"), validators=[Length(max=500)])


@bp.get("/")
@role_required("manager")
def index():
    return render_template(
        "disputes/index.html",
        open_disputes=disputes_for(current_user),
        decided=disputes_for(current_user, "decided")[:20],
        form=DecisionForm(),
        decision_labels=DECISION_LABELS,
    )


@bp.post("/<int:dispute_id>/decide")
@role_required("manager")
def decide(dispute_id):
    dispute = Dispute.get_or_none(Dispute.id == dispute_id) or abort(404)
    if not (manages(current_user, dispute.claimant) or manages(current_user, dispute.owner)):
        abort(403)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            decide_dispute(
                dispute, current_user._get_current_object(), form.decision.data, form.note.data or ""
            )
        except OwnershipError as refused:
            flash(refused.message, "error")
        else:
            flash(_("Decision recorded."), "success")
        return redirect(url_for("disputes.index"), 303)
    return render_template(
        "disputes/index.html",
        open_disputes=disputes_for(current_user),
        decided=disputes_for(current_user, "decided")[:20],
        form=form,
        failed_id=dispute.id,
        decision_labels=DECISION_LABELS,
    ), 422
