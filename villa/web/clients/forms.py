"""Forms of the client page: a section at a time or one field (click-to-edit), and the deal stage."""

from functools import cache

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from villa.client_page import SECTIONS
from villa.fields import offer_stored, options
from villa.i18n import lazy_gettext as _l
from villa.labels import PAYMENT_LABELS, STAGE_LABELS
from villa.models import PAYMENT_METHODS, Customer, User
from villa.ownership import reassignable_reps
from villa.profile import EDITABLE, TYPED_FRESH, form_class, form_value, next_stages
from villa.questions import MULTIPLE, split_answers

# TYPED_FRESH numbers are never prefilled: opening the form reveals nothing (and needs no
# access-log row); the page shows the masked current value as the hint.
# Optional numbers: left empty they stay as they are; removing one takes the tick below.
REMOVABLE = ("alt_phone", "id_number")


class FieldForm(FlaskForm):
    """Base of the one-field forms; their inputs come from villa.profile.EDITABLE."""


class RemovableFieldForm(FieldForm):
    remove = BooleanField(_l("Remove the current number"))


def field_form(field_name: str, customer: Customer, may_reveal: bool, hint=None) -> FlaskForm:
    """The edit form of one field, bound to the request on POST, else filled from the customer.

    Personal values are filled in only for who may see them in full; phone and ID never are.
    """
    base = RemovableFieldForm if field_name in REMOVABLE else FieldForm
    spec = EDITABLE[field_name]
    shown = _prefill(customer, field_name, spec, may_reveal)
    form = form_class(field_name, base)(data=shown)
    for name, value in shown.items():
        if hasattr(form[name], "choices"):
            offer_stored(form[name], value)
    if field_name in TYPED_FRESH:
        typed = form[field_name]
        typed.render_kw = {"placeholder": _l("type the new value"), "autocomplete": "off"}
        typed.description = hint or ""
    return form


def _prefill(customer: Customer, field_name: str, spec, may_reveal: bool) -> dict:
    if field_name == "id_number":
        return {"id_type": customer.id_type, "id_number": ""}
    if field_name in TYPED_FRESH or (spec.personal and not may_reveal):
        return {field_name: ""}
    if field_name in MULTIPLE:
        return {field_name: split_answers(form_value(customer, field_name))}
    return {field_name: form_value(customer, field_name)}


class SectionForm(FlaskForm):
    """Base of the section forms: the inputs of every field of a section of the client page."""


# A section's form holds two numbers one may remove: each tick names its number.
REMOVE_LABELS = {"alt_phone": _l("Remove the other phone"), "id_number": _l("Remove the ID number")}


@cache
def section_form_class(section: str) -> type:
    attrs = {}
    for field_name in SECTIONS[section]:
        attrs.update({name: spec.unbound() for name, spec in EDITABLE[field_name].fields.items()})
        if field_name in REMOVABLE:
            attrs[f"remove_{field_name}"] = BooleanField(REMOVE_LABELS[field_name])
    return type(f"{section.title().replace('_', '')}SectionForm", (SectionForm,), attrs)


def section_form(section: str, customer: Customer, hints: dict) -> FlaskForm:
    """The edit form of a section, bound to the request on POST, else filled from the customer
    (for who may change the customer, who may see it in full). Phone and ID are never prefilled:
    left empty they stay as they are; `hints` gives each the masked current value."""
    shown = {}
    for field_name in SECTIONS[section]:
        shown.update(_prefill(customer, field_name, EDITABLE[field_name], True))
    form = section_form_class(section)(data=shown)
    for name, value in shown.items():
        if hasattr(form[name], "choices"):
            offer_stored(form[name], value)
    for field_name in TYPED_FRESH:
        if field_name in form:
            typed = form[field_name]
            typed.render_kw = {"placeholder": _l("unchanged"), "autocomplete": "off"}
            typed.description = hints.get(field_name, "")
    return form


def section_values(section: str, form: FlaskForm) -> dict:
    """What was sent for each field of the section, as villa.profile.update_fields takes it; a
    number left empty is left out (no change), a ticked removal sends it empty."""
    values = {}
    for field_name in SECTIONS[section]:
        sent = {name: (form[name].raw_data or [""])[0] for name in EDITABLE[field_name].fields}
        if field_name in MULTIPLE:
            sent[field_name] = list(form[field_name].raw_data or [])
        remove = f"remove_{field_name}"
        if remove in form and form[remove].data:
            sent[field_name] = ""
        elif field_name in TYPED_FRESH and not str(sent[field_name]).strip():
            continue
        values[field_name] = sent
    return values


def submitted_values(field_name: str, form: FlaskForm) -> dict | None:
    """What the rep asked to store; None when an optional number was left empty (no change)."""
    # The raw text, not .data: an unreadable number must reach the checks, not turn into "empty".
    values = {name: (form[name].raw_data or [""])[0] for name in EDITABLE[field_name].fields}
    if field_name in MULTIPLE:
        values[field_name] = list(form[field_name].raw_data or [])
    if "remove" in form and form.remove.data:
        values[field_name] = ""
    elif field_name in REMOVABLE and not str(values[field_name]).strip():
        return None
    return values


class StageForm(FlaskForm):
    # Own ids: "stage" is the id of the whole stage block on the page.
    stage = SelectField(_l("Move to"), id="stage-next", validate_choice=False)
    lost_reason = StringField(
        _l("Why was the customer lost?"), id="stage-lost-reason", validators=[Length(max=200)]
    )
    # The deal of a move to 认筹, 认购 or 签约 (villa.deals checks them).
    unit_number = StringField(_l("Unit number"), id="deal-unit-number")
    area = StringField(_l("Area (㎡)"), id="deal-area", render_kw={"inputmode": "decimal"})
    price = StringField(_l("Total price (yuan)"), id="deal-price", render_kw={"inputmode": "decimal"})
    deal_date = StringField(_l("Date of the deal"), id="deal-date", render_kw={"type": "date"})
    payment = SelectField(_l("Payment"), id="deal-payment", validate_choice=False)

    def __init__(self, customer: Customer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage.choices = options((s, STAGE_LABELS[s]) for s in next_stages(customer))
        payments = [("", _l("Choose")), *((code, PAYMENT_LABELS[code]) for code in PAYMENT_METHODS)]
        self.payment.choices = options(payments)

    def deal_values(self) -> dict:
        return {name: self[name].data for name in ("unit_number", "area", "price", "deal_date", "payment")}


class CancelDealForm(FlaskForm):
    reason = StringField(_l("Why is the deal cancelled?"), validators=[Length(max=200)])


TRANSFER_DESTINATIONS = (
    ("rep", _l("To one sales rep")),
    ("team", _l("Spread evenly over my team")),
    ("pool", _l("To the public pool")),
)


class TransferForm(FlaskForm):
    """A manager moves the customers ticked in the list (villa.handover.transfer)."""

    destination = RadioField(
        _l("Move the ticked customers"),
        choices=options(TRANSFER_DESTINATIONS),
        default="rep",
        validate_choice=False,
        validators=[DataRequired(_l("Choose where the customers go."))],
    )
    to_rep = SelectField(_l("Sales rep"), validate_choice=False)
    reason = StringField(
        _l("Reason for the move"),
        validators=[DataRequired(_l("Give the reason for the move.")), Length(max=300)],
    )

    def __init__(self, manager: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reps = reassignable_reps(manager)
        self.to_rep.choices = options(
            [("", _l("Choose a sales rep"))] + [(str(r.id), f"{r.display_name} ({r.username})") for r in reps]
        )
