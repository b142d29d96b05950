"""The customer's fields as the office asks for them: labels, the choices offered, limits and checks.

One description serves the desk's registration form, the client page's click-to-edit forms, the
customer's own corrections and the Excel import, so each accepts exactly what the others accept.
A spec makes its WTForms field (`unbound()`) where a form class is written, which keeps that form's
field order as written there.
"""

import re
from dataclasses import dataclass

from wtforms import (
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from villa.i18n import lazy_gettext as _l
from villa.identity import ID_TYPES, IdentityError, normalise_id_number, normalise_phone
from villa.labels import GENDER_LABELS, ID_TYPE_LABELS, PURPOSE_LABELS
from villa.questions import MULTIPLE, QUESTIONS, split_answers
from villa.settings import question_options

# Names as people write them: Chinese characters, Latin letters, the middle dot of minority names.
NAME_PATTERN = re.compile(r"^[\w\u00b7\u30fb .'-]+$")
NAME_MAX = 40
NOTES_MAX = 1000
AGE_BANDS = ("", "<30", "30-39", "40-49", "50-59", "60+")
AREA_BANDS = ("", "<200㎡", "200-300㎡", "300-400㎡", "400㎡+")
BUDGET_BANDS = ("", "<800万", "800-1000万", "1000-1500万", "1500-2000万", "2000万+")
UNIT_TYPES = ("", "独栋", "双拼", "联排", "叠拼", "合院")
PAYMENT_METHODS = ("", "全款", "商业贷款", "公积金贷款", "组合贷款")
ASSET_BANDS = ("", "<1000万", "1000-3000万", "3000万-1亿", "1亿+")


def options(pairs) -> list[SelectChoice]:
    """WTForms 3.3 choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def band_choices(values) -> list[SelectChoice]:
    return options((v, v or _l("Not given")) for v in values)


YES_NO = options((("", _l("Not asked")), ("yes", _l("Yes")), ("no", _l("No"))))


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a row of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def offer_stored(field, stored):
    """Keep a stored value the list does not offer (a legacy band such as 350㎡以上, an option the
    admin has since removed) as one more choice, so a form opened on it shows it, and sending it
    back unchanged is allowed. Several answers (a list) are each kept."""
    for value in stored if isinstance(stored, list) else [stored]:
        if value and all(choice.value != value for choice in field.choices):
            field.choices = [*field.choices, SelectChoice(value)]


# The checks a form runs as its validate_<name> methods: each is called as (form, field).


def name_allowed(text: str) -> bool:
    """Letters, spaces and the marks of names only: no digits, angle brackets or other symbols."""
    return bool(NAME_PATTERN.match(text)) and not any(ch.isdigit() for ch in text)


def check_name(form, field):
    field.data = (field.data or "").strip()
    if not name_allowed(field.data):
        raise ValidationError(_l("Use letters only: no digits, angle brackets or other symbols."))


def check_phone(form, field):
    try:
        form.normal_phone = normalise_phone(field.data or "")
    except IdentityError as err:
        raise ValidationError(err.message) from None


def check_alt_phone(form, field):
    if field.data:
        try:
            normalise_phone(field.data)
        except IdentityError as err:
            raise ValidationError(err.message) from None


def check_id_number(form, field):
    """Checked against the form's ID type; the normalised number is left on the form."""
    field.data = (field.data or "").strip()
    if not field.data:
        return
    try:
        form.normal_id = normalise_id_number(field.data, form.id_type.data)
    except IdentityError as err:
        raise ValidationError(err.message) from None


@dataclass(frozen=True)
class FieldSpec:
    """One customer field as a form asks for it."""

    label: object
    kind: type = StringField  # the WTForms field class
    choices: list | None = None
    default: object = None
    validators: tuple = ()
    check: object = None  # the form's validate_<name>, called as (form, field)

    def unbound(self):
        """A fresh WTForms field for a form class being written."""
        kwargs = {"validators": list(self.validators)}
        if self.choices is not None:
            kwargs["choices"] = self.choices
        if self.default is not None:
            kwargs["default"] = self.default
        return self.kind(self.label, **kwargs)


def _text(label, max_length: int, kind=StringField) -> FieldSpec:
    return FieldSpec(label, kind, validators=(Length(max=max_length),))


def _band(label, values) -> FieldSpec:
    return FieldSpec(label, SelectField, band_choices(values), "")


def _question(name: str) -> FieldSpec:
    """A question with the office's options (villa.questions), read each time a form is made."""
    label = QUESTIONS[name][1]
    if name in MULTIPLE:
        return FieldSpec(label, MultiCheckboxField, lambda: options((o, o) for o in question_options(name)))
    return FieldSpec(label, SelectField, lambda: band_choices(["", *question_options(name)]), "")


def stored_answers(value):
    """A question's stored text as its form holds it: a list for several answers."""
    return split_answers(value)


CUSTOMER_FIELDS = {
    "name": FieldSpec(
        _l("Name"),
        validators=(DataRequired(_l("Enter the customer's name.")), Length(max=NAME_MAX)),
        check=check_name,
    ),
    "gender": FieldSpec(_l("Gender"), RadioField, options(GENDER_LABELS.items()), "U"),
    "age_band": _band(_l("Age"), AGE_BANDS),
    "phone": FieldSpec(
        _l("Mobile phone"),
        validators=(DataRequired(_l("Please enter a phone number.")), Length(max=40)),
        check=check_phone,
    ),
    "alt_phone": FieldSpec(_l("Other phone"), validators=(Optional(), Length(max=40)), check=check_alt_phone),
    "referrer_name": _text(_l("Referred by"), 40),
    "broker_agency": _text(_l("Agency"), 60),
    "broker_name": _text(_l("Broker"), 40),
    "unit_type": _band(_l("Unit type"), UNIT_TYPES),
    "area_band": _band(_l("Area"), AREA_BANDS),
    "budget": _band(_l("Budget"), BUDGET_BANDS),
    "purpose": FieldSpec(
        _l("Purpose"), SelectField, options([("", _l("Not given")), *PURPOSE_LABELS.items()]), ""
    ),
    "competing_projects": _text(_l("Other projects considered"), 200),
    "notes": _text(_l("Notes"), NOTES_MAX, TextAreaField),
    "hukou_local": FieldSpec(_l("Local household registration"), SelectField, YES_NO, ""),
    "social_insurance_months": FieldSpec(
        _l("Months of local social insurance or tax"),
        IntegerField,
        validators=(Optional(), NumberRange(0, 600)),
    ),
    "homes_owned": FieldSpec(
        _l("Homes the family owns"), IntegerField, validators=(Optional(), NumberRange(0, 50))
    ),
    "address": _text(_l("Address"), 200),
    "wechat": _text(_l("WeChat"), 60),
    "id_type": FieldSpec(
        _l("ID type"), SelectField, options((t, ID_TYPE_LABELS[t]) for t in ID_TYPES), "resident"
    ),
    "id_number": FieldSpec(_l("ID number"), validators=(Length(max=40),), check=check_id_number),
    "payment_method": _band(_l("Payment method"), PAYMENT_METHODS),
    "asset_band": _band(_l("Assets"), ASSET_BANDS),
    "credit_notes": _text(_l("Credit notes"), 200),
    **{name: _question(name) for name in QUESTIONS},
}
