"""The registration form: what the desk types, checked field by field (the customer's fields and
their checks come from villa.fields)."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from villa.fields import CUSTOMER_FIELDS as F
from villa.fields import (
    MultiCheckboxField,
    check_alt_phone,
    check_id_number,
    check_name,
    check_phone,
    options,
)
from villa.i18n import lazy_gettext as _l
from villa.labels import VISIT_TYPE_LABELS
from villa.models import GRADES, Channel, User
from villa.rotation import NOTE_MAX, OUT_OF_TURN_LABELS


class OutOfTurnFields:
    """Why a walk-in goes to a rep whose turn it is not (checked by villa.rotation.out_of_turn)."""

    skip_reason = RadioField(
        _l("Not the rep whose turn it is: why?"),
        choices=options(OUT_OF_TURN_LABELS.items()),
        validate_choice=False,
    )
    skip_note = StringField(_l("Other reason"), validators=[Length(max=NOTE_MAX)])


# What the desk asks every customer, on the form's first screen; everything else is under 更多信息.
ESSENTIALS = ("phone", "name", "gender", "visit_type", "channel", "rep", "skip_reason", "skip_note")


class RegistrationForm(OutOfTurnFields, FlaskForm):
    visit_type = RadioField(
        _l("Reception type"),
        choices=options(VISIT_TYPE_LABELS.items()),
        default="visit",
        validators=[InputRequired()],
    )
    name = F["name"].unbound()
    gender = F["gender"].unbound()
    age_band = F["age_band"].unbound()
    phone = F["phone"].unbound()
    alt_phone = F["alt_phone"].unbound()
    channel = SelectField(
        _l("Source channel"), validators=[DataRequired(_l("Choose a channel."))], validate_choice=False
    )
    referrer_name = F["referrer_name"].unbound()
    broker_agency = F["broker_agency"].unbound()
    broker_name = F["broker_name"].unbound()
    rep = SelectField(_l("Sales rep"), coerce=int, validate_choice=False)
    unit_type = F["unit_type"].unbound()
    area_band = F["area_band"].unbound()
    budget = F["budget"].unbound()
    purpose = F["purpose"].unbound()
    grade = SelectField(_l("Intent grade"), choices=options((g, g) for g in GRADES), default="C")
    competing_projects = F["competing_projects"].unbound()
    notes = F["notes"].unbound()
    hukou_local = F["hukou_local"].unbound()
    social_insurance_months = F["social_insurance_months"].unbound()
    homes_owned = F["homes_owned"].unbound()
    address = F["address"].unbound()
    wechat = F["wechat"].unbound()
    sensitive_consent = BooleanField(
        _l("The customer agrees separately to ID and financial data being stored")
    )
    id_type = F["id_type"].unbound()
    id_number = F["id_number"].unbound()
    payment_method = F["payment_method"].unbound()
    asset_band = F["asset_band"].unbound()
    credit_notes = F["credit_notes"].unbound()
    # 更多信息: the questions villa offices ask (villa.questions).
    home_area = F["home_area"].unbound()
    work_area = F["work_area"].unbound()
    occupation = F["occupation"].unbound()
    family_structure = F["family_structure"].unbound()
    purchase_count = F["purchase_count"].unbound()
    concerns = F["concerns"].unbound()
    objections = F["objections"].unbound()
    materials = MultiCheckboxField(_l("Materials handed over"), coerce=int, validate_choice=False)
    consent = BooleanField(_l("The customer agrees to the privacy notice"))

    def __init__(self, *args, reps=(), materials=(), brokers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channels = Channel.active_list()
        # The agencies and brokers on record, offered as the desk types: (broker, agency) names
        # (villa.broker_accounts.broker_names).
        self.brokers = list(brokers)
        self.agency_names = sorted({agency for _broker, agency in self.brokers})
        self.report = None  # the valid 报备 registering confirms: it brings agency and broker
        # A channel that asks who referred or brought the customer says so, so that the page can
        # open 更多信息 where those fields are.
        self.channel.choices = [
            SelectChoice(c.code, c.name, render_kw={"data-asks-more": bool(c.asks_referrer or c.asks_broker)})
            for c in self.channels
        ]
        self.rep.choices = options((r.id, r.display_name) for r in reps)
        self.materials.choices = options((m.id, m.name) for m in materials)
        self.normal_phone = self.normal_id = None

    validate_name = check_name
    validate_phone = check_phone
    validate_alt_phone = check_alt_phone
    validate_id_number = check_id_number

    def validate_channel(self, field):
        channel = next((c for c in self.channels if c.code == field.data), None)  # active ones only
        if channel is None:
            raise ValidationError(_l("Choose a channel from the list."))
        self.chosen_channel = channel

    def chosen_rep(self):
        """The active rep picked in the list, or None."""
        return User.active_rep(self.rep.data)

    def validate_consent(self, field):
        if not field.data:
            raise ValidationError(_l("The customer must agree to the privacy notice before registering."))

    def errors_in_page_order(self):
        """(id of the element to focus, message) for each failed field, in the order of the page:
        the essentials, then 更多信息, then the consent at the bottom."""
        fields = [self[name] for name in ESSENTIALS]
        fields += [f for f in self if f.name not in ESSENTIALS and f.name not in ("consent", "csrf_token")]
        fields.append(self.consent)
        return [(_element_id(f), " ".join(str(e) for e in f.errors)) for f in fields if f.errors]

    def more_has_errors(self) -> bool:
        """Whether a field under 更多信息 failed (the page then shows it open)."""
        return any(f.errors for f in self if f.name not in (*ESSENTIALS, "consent", "csrf_token"))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        self._check_across_fields()
        return valid and not any(f.errors for f in self)

    def _check_across_fields(self):
        """Rules that tie one field to another; each message lands at the field to fix."""
        channel = getattr(self, "chosen_channel", None)
        if channel and channel.asks_referrer and not (self.referrer_name.data or "").strip():
            self.referrer_name.errors.append(_l("Who referred the customer?"))
        if (
            channel
            and channel.asks_broker
            and self.report is None
            and not ((self.broker_agency.data or "").strip() and (self.broker_name.data or "").strip())
        ):
            self.broker_agency.errors.append(_l("Enter the agency and the broker's name."))
        if self.id_number.data and not self.sensitive_consent.data:
            self.sensitive_consent.errors.append(
                _l("An ID number may only be stored with the customer's separate consent.")
            )
        financial = self.payment_method.data or self.asset_band.data or (self.credit_notes.data or "").strip()
        if financial and not self.sensitive_consent.data and not self.sensitive_consent.errors:
            self.sensitive_consent.errors.append(
                _l("Financial details may only be stored with the customer's separate consent.")
            )


def _element_id(field) -> str:
    """The id a link to the field points at: the first option of a group of radios or checkboxes."""
    return f"{field.id}-0" if field.type in ("RadioField", "MultiCheckboxField") else field.id


class ReturnVisitForm(FlaskForm):
    kind = RadioField(
        _l("Reception type"),
        choices=options(VISIT_TYPE_LABELS.items()),
        default="visit",
        validators=[InputRequired()],
    )
    note = StringField(_l("Note for the rep"), validators=[Length(max=200)])


class DisputeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the dispute"),
        validators=[DataRequired(_l("Give the reason for the dispute.")), Length(max=500)],
    )


class HandOutForm(OutOfTurnFields, FlaskForm):
    """A customer from the public pool walks in: the desk gives them to a rep of the rotation."""

    rep = SelectField(_l("Sales rep"), coerce=int, validate_choice=False)
    kind = RadioField(
        _l("Reception type"),
        choices=options(VISIT_TYPE_LABELS.items()),
        default="visit",
        validators=[InputRequired()],
    )

    def __init__(self, *args, reps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.rep.choices = options((r.id, r.display_name) for r in reps)

    def chosen_rep(self):
        return User.active_rep(self.rep.data)


class OutOfTurnForm(OutOfTurnFields, FlaskForm):
    """The desk's "took a walk-in" for a rep whose turn it is not."""


class SkipReportForm(FlaskForm):
    """The skip report's period (GET, no CSRF)."""

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end cannot be before the start."))
