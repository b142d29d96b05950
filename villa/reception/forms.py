"""The registration form: what the desk types, checked field by field."""

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from villa.i18n import lazy_gettext as _l
from villa.identity import ID_TYPES, IdentityError, normalise_id_number, normalise_phone
from villa.labels import GENDER_LABELS, ID_TYPE_LABELS, PURPOSE_LABELS, VISIT_TYPE_LABELS
from villa.models import GRADES, Channel

# Names as people write them: Chinese characters, Latin letters, the middle dot of minority names.
NAME_PATTERN = re.compile(r"^[\w\u00b7\u30fb .'-]+$")
AGE_BANDS = ("", "<30", "30-39", "40-49", "50-59", "60+")
AREA_BANDS = ("", "<200㎡", "200-300㎡", "300-400㎡", "400㎡+")
BUDGET_BANDS = ("", "<800万", "800-1000万", "1000-1500万", "1500-2000万", "2000万+")
UNIT_TYPES = ("", "独栋", "双拼", "联排", "叠拼", "合院")
PAYMENT_METHODS = ("", "全款", "商业贷款", "公积金贷款", "组合贷款")
ASSET_BANDS = ("", "<1000万", "1000-3000万", "3000万-1亿", "1亿+")


def options(pairs):
    """WTForms 3.3 choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _band_choices(values):
    return options((v, v or _l("Not given")) for v in values)


YES_NO = options((("", _l("Not asked")), ("yes", _l("Yes")), ("no", _l("No"))))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RegistrationForm(FlaskForm):
    visit_type = RadioField(
        _l("Came by"),
        choices=options(VISIT_TYPE_LABELS.items()),
        default="visit",
        validators=[InputRequired()],
    )
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the customer's name.")), Length(max=40)]
    )
    gender = RadioField(_l("Gender"), choices=options(GENDER_LABELS.items()), default="U")
    age_band = SelectField(_l("Age"), choices=_band_choices(AGE_BANDS), default="")
    phone = StringField(
        _l("Mobile phone"), validators=[DataRequired(_l("Please enter a phone number.")), Length(max=40)]
    )
    alt_phone = StringField(_l("Other phone"), validators=[Optional(), Length(max=40)])
    channel = SelectField(
        _l("Source channel"), validators=[DataRequired(_l("Choose a channel."))], validate_choice=False
    )
    referrer_name = StringField(_l("Referred by"), validators=[Length(max=40)])
    broker_agency = StringField(_l("Agency"), validators=[Length(max=60)])
    broker_name = StringField(_l("Broker"), validators=[Length(max=40)])
    rep = SelectField(_l("Sales rep"), coerce=int, validate_choice=False)
    unit_type = SelectField(_l("Unit type"), choices=_band_choices(UNIT_TYPES), default="")
    area_band = SelectField(_l("Area"), choices=_band_choices(AREA_BANDS), default="")
    budget = SelectField(_l("Budget"), choices=_band_choices(BUDGET_BANDS), default="")
    purpose = SelectField(
        _l("Purpose"), choices=options([("", _l("Not given")), *PURPOSE_LABELS.items()]), default=""
    )
    grade = SelectField(_l("Intent grade"), choices=options((g, g) for g in GRADES), default="C")
    competing_projects = StringField(_l("Other projects considered"), validators=[Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=1000)])
    hukou_local = SelectField(_l("Local household registration"), choices=YES_NO, default="")
    social_insurance_months = IntegerField(
        _l("Months of local social insurance or tax"), validators=[Optional(), NumberRange(0, 600)]
    )
    homes_owned = IntegerField(_l("Homes the family owns"), validators=[Optional(), NumberRange(0, 50)])
    address = StringField(_l("Address"), validators=[Length(max=200)])
    wechat = StringField(_l("WeChat"), validators=[Length(max=60)])
    sensitive_consent = BooleanField(
        _l("The customer agrees separately to ID and financial data being stored")
    )
    id_type = SelectField(
        _l("ID type"), choices=options((t, ID_TYPE_LABELS[t]) for t in ID_TYPES), default="resident"
    )
    id_number = StringField(_l("ID number"), validators=[Length(max=40)])
    payment_method = SelectField(_l("Payment method"), choices=_band_choices(PAYMENT_METHODS), default="")
    asset_band = SelectField(_l("Assets"), choices=_band_choices(ASSET_BANDS), default="")
    credit_notes = StringField(_l("Credit notes"), validators=[Length(max=200)])
    materials = MultiCheckboxField(_l("Materials handed over"), coerce=int, validate_choice=False)
    consent = BooleanField(_l("The customer agrees to the privacy notice"))

    def __init__(self, *args, reps=(), materials=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channels, self.reps = Channel.active_list(), list(reps)
        self.channel.choices = options((c.code, c.name) for c in self.channels)
        self.rep.choices = options((r.id, r.display_name) for r in self.reps)
        self.materials.choices = options((m.id, m.name) for m in materials)
        self.normal_phone = self.normal_id = None

    def validate_name(self, field):
        field.data = (field.data or "").strip()
        if not NAME_PATTERN.match(field.data) or any(ch.isdigit() for ch in field.data):
            raise ValidationError(_l("Use letters only: no digits, angle brackets or other symbols."))

    def validate_phone(self, field):
        try:
            self.normal_phone = normalise_phone(field.data or "")
        except IdentityError as err:
            raise ValidationError(err.message) from None

    def validate_alt_phone(self, field):
        if field.data:
            try:
                normalise_phone(field.data)
            except IdentityError as err:
                raise ValidationError(err.message) from None

    def validate_channel(self, field):
        channel = next((c for c in self.channels if c.code == field.data), None)  # active ones only
        if channel is None:
            raise ValidationError(_l("Choose a channel from the list."))
        self.chosen_channel = channel

    def chosen_rep(self):
        """The active rep picked in the list, or None."""
        return next((r for r in self.reps if r.id == self.rep.data), None)

    def validate_id_number(self, field):
        field.data = (field.data or "").strip()
        if not field.data:
            return
        try:
            self.normal_id = normalise_id_number(field.data, self.id_type.data)
        except IdentityError as err:
            raise ValidationError(err.message) from None

    def validate_consent(self, field):
        if not field.data:
            raise ValidationError(_l("The customer must agree to the privacy notice before registering."))

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


class ReturnVisitForm(FlaskForm):
    kind = RadioField(
        _l("Came by"),
        choices=options(VISIT_TYPE_LABELS.items()),
        default="visit",
        validators=[InputRequired()],
    )
    note = StringField(_l("Note for the rep"), validators=[Length(max=200)])


class DisputeForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is this customer yours?"),
        validators=[DataRequired(_l("Give the reason for the dispute.")), Length(max=500)],
    )
