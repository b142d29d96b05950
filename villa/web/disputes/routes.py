"""Disputes (撞单): the managers' list, and their decisions.

A manager sees the disputes that touch their team; the manager of the customer's owner decides; a
dispute the customer's change of owner made out of date can only be closed. Names and reasons show
in clear only to who may see the customer in full.
"""

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from villa.auth import role_required
from villa.customers import can_see_full
from villa.fields import options
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import Dispute
from villa.ownership import (
    SUPERSEDED,
    OwnershipError,
    close_superseded,
    decide_dispute,
    disputes_for,
    may_decide,
    superseded,
    touches,
)
from villa.report_panel import reports_of
from villa.web.disputes import bp

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


@dataclass
class Shown:
    """One dispute as this manager sees it."""

    d: Dispute
    full: bool  # the customer's name and the reasons in clear
    superseded: bool
    may_decide: bool
    reports: list  # the 报备 confirmed onto the customer: evidence beside the registration times

    @classmethod
    def of(cls, dispute: Dispute) -> "Shown":
        customer = dispute.customer
        return cls(
            dispute,
            can_see_full(current_user, customer),
            superseded(dispute),
            may_decide(current_user, customer),
            reports_of(customer),
        )


def _page(status: int = 200, **extra):
    return render_template(
        "disputes/index.html",
        open_disputes=[Shown.of(d) for d in disputes_for(current_user)],
        decided=[Shown.of(d) for d in disputes_for(current_user, "decided")[:20]],
        form=extra.pop("form", None) or DecisionForm(),
        decision_labels=DECISION_LABELS,
        **extra,
    ), status


@bp.get("/")
@role_required("manager")
def index():
    return _page()


def _dispute(dispute_id: int) -> Dispute:
    """The dispute, when it is this manager's business; else 404 or 403."""
    dispute = Dispute.get_or_none(Dispute.id == dispute_id) or abort(404)
    if not touches(current_user, dispute):
        abort(403)
    return dispute


@bp.post("/<int:dispute_id>/decide")
@role_required("manager")
def decide(dispute_id):
    dispute = _dispute(dispute_id)
    if superseded(dispute):
        flash(SUPERSEDED, "error")
        return redirect(url_for("disputes.index"), 303)
    if not may_decide(current_user, dispute.customer):
        abort(403)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _page(422, form=form, failed_id=dispute.id)
    decision, note = form.decision.data, form.note.data or ""
    return _carried_out(
        lambda manager: decide_dispute(dispute, manager, decision, note), _("Decision recorded.")
    )


@bp.post("/<int:dispute_id>/close")
@role_required("manager")
def close(dispute_id):
    """Close a dispute the customer's change of owner made out of date."""
    dispute = _dispute(dispute_id)
    return _carried_out(
        lambda manager: close_superseded(dispute, manager), _("Dispute closed: nobody was moved.")
    )


def _carried_out(act, done):
    """Act as the current manager; the refusal or `done` as a message, back to the list."""
    try:
        act(current_user._get_current_object())
    except OwnershipError as refused:
        flash(refused.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("disputes.index"), 303)
