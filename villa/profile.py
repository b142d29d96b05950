"""Changing a registered customer field by field, with the history the office must keep.

Every change writes one audit row. Personal data (phone, ID number, address, WeChat, financial
details) is recorded there only as "changed", never with its values.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from flask_wtf.i18n import translations as wtforms_translations
from peewee import IntegrityError
from wtforms import Form

from villa.crypto import blind_indexes
from villa.customers import set_alt_phone, set_id_number, set_phone
from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.identity import normalise_phone
from villa.models import STAGES, AuditLog, Customer, User, now
from villa.reception.forms import RegistrationForm as Desk

FUNNEL = STAGES[:-1]  # registered → visited → pledged → subscribed → signed; "lost" stands apart
HISTORY_ACTIONS = ("field_changed", "stage_changed", "grade_changed")
# A changed identity makes the approved registration a new one for the reviewers.
RESUBMIT_ON = ("name", "phone", "id_number")
_NULLABLE = ("alt_phone", "address", "wechat", "payment_method", "asset_band", "credit_notes")
_YES_NO = {"yes": True, "no": False}


class ProfileError(ValueError):
    """Input refused; `field` names the form input the message belongs next to."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Editable:
    """One thing a rep may change on the client page.

    `fields` are WTForms unbound fields (field factories) taken from the registration form, so the
    edit accepts exactly what the desk accepts; `checks` are that form's inline validators.
    kind: plain (logged with values), personal (logged as "changed"), sensitive (personal, and
    stored only with the customer's separate consent).
    """

    label: object
    fields: dict
    kind: str = "plain"
    checks: dict = field(default_factory=dict)
    confidential: bool = False  # shown in clear only to who may see the customer in full

    @property
    def personal(self) -> bool:
        return self.kind != "plain"

    @property
    def hidden_from_others(self) -> bool:
        return self.personal or self.confidential


def _desk(name: str, kind: str = "plain", check: bool = False, **extra) -> Editable:
    unbound = getattr(Desk, name)
    checks = {name: getattr(Desk, f"validate_{name}")} if check else {}
    return Editable(unbound.args[0], {name: unbound}, kind, checks, **extra)


EDITABLE = {
    "name": _desk("name", check=True),
    "gender": _desk("gender"),
    "age_band": _desk("age_band"),
    "phone": _desk("phone", "personal", check=True),
    "alt_phone": _desk("alt_phone", "personal", check=True),
    "address": _desk("address", "personal"),
    "wechat": _desk("wechat", "personal"),
    "id_number": Editable(
        Desk.id_number.args[0],
        {"id_type": Desk.id_type, "id_number": Desk.id_number},
        "sensitive",
        {"id_number": Desk.validate_id_number},
    ),
    "unit_type": _desk("unit_type"),
    "area_band": _desk("area_band"),
    "budget": _desk("budget"),
    "purpose": _desk("purpose"),
    "competing_projects": _desk("competing_projects"),
    "notes": _desk("notes", confidential=True),
    "hukou_local": _desk("hukou_local"),
    "social_insurance_months": _desk("social_insurance_months"),
    "homes_owned": _desk("homes_owned"),
    "payment_method": _desk("payment_method", "sensitive"),
    "asset_band": _desk("asset_band", "sensitive"),
    "credit_notes": _desk("credit_notes", "sensitive"),
    "referrer_name": _desk("referrer_name"),
    "broker_agency": _desk("broker_agency"),
    "broker_name": _desk("broker_name"),
}


class CheckForm(Form):
    """The edit's validation outside a request: WTForms' messages still in the user's language."""

    class Meta:
        def get_translations(self, form):
            return wtforms_translations


@cache
def form_class(field_name: str, base: type = CheckForm) -> type:
    """A form holding just this field's inputs and the registration form's checks for them."""
    spec = EDITABLE[field_name]
    attrs = dict(spec.fields)
    attrs.update({f"validate_{name}": check for name, check in spec.checks.items()})
    return type(f"{field_name.title().replace('_', '')}Form", (base,), attrs)


def current_value(customer: Customer, field_name: str):
    if field_name == "id_number":
        return (customer.id_type, customer.id_number or None)
    value = getattr(customer, field_name)
    return (value or None) if field_name in _NULLABLE else value


def update_field(customer: Customer, actor: User, field_name: str, values) -> Customer:
    """Change one field (ID type and number count as one); `values` is the raw text typed, or a
    mapping of input name to raw text such as the request's form. Raises ProfileError."""
    spec = EDITABLE.get(field_name)
    if spec is None:
        raise ProfileError(field_name, _l("This field cannot be changed here."))
    new = _validated(customer, field_name, spec, values)
    old = current_value(customer, field_name)
    if _same(new, old) or (field_name == "id_number" and new[1] is old[1] is None):
        return customer
    if spec.kind == "sensitive" and _stores_something(new) and not customer.sensitive_consent_at:
        raise ProfileError(
            field_name,
            _l("First record the customer's separate consent to storing ID and financial details."),
        )
    if _belongs_to_another(customer, field_name, new):
        raise ProfileError(field_name, _duplicate_message(field_name))
    changes = {field_name: "changed" if spec.personal else [old, new]}
    before = dict(customer.__data__)
    columns = _apply(customer, field_name, new)
    if field_name in RESUBMIT_ON and customer.review_status == "approved":
        customer.review_status = "pending_first"
        changes["review"] = "resubmitted"
        columns.append(Customer.review_status)
    _save(customer, actor, "field_changed", changes, columns, before, field_name)
    return customer


def _validated(customer: Customer, field_name: str, spec: Editable, values):
    if not isinstance(values, Mapping):
        values = {field_name: "" if values is None else str(values), "id_type": customer.id_type}
    form = form_class(field_name)(formdata=_FormData({n: values.get(n) or "" for n in spec.fields}))
    if not form.validate():
        name, errors = next((f.name, f.errors) for f in form if f.errors)
        raise ProfileError(name, errors[0])
    if field_name in ("referrer_name", "broker_agency", "broker_name"):
        _check_channel_asks(customer, field_name, form[field_name].data)
    if field_name == "id_number":
        return (form.id_type.data, getattr(form, "normal_id", None) if form.id_number.data else None)
    data = form[field_name].data
    if field_name == "hukou_local":
        return _YES_NO.get(data)
    if field_name in ("social_insurance_months", "homes_owned"):
        return data
    if field_name == "phone":
        return form.normal_phone
    text = (data or "").strip().replace("\r\n", "\n")
    if field_name == "alt_phone":
        return normalise_phone(text) if text else None
    return (text or None) if field_name in _NULLABLE else text


def _check_channel_asks(customer: Customer, field_name: str, value: str):
    """The desk's cross-field rule: a referral names its referrer, a broker channel its broker."""
    if (value or "").strip():
        return
    channel = customer.channel
    if field_name == "referrer_name" and channel.asks_referrer:
        raise ProfileError(field_name, _l("Who referred the customer?"))
    if field_name != "referrer_name" and channel.asks_broker:
        raise ProfileError(field_name, _l("Enter the agency and the broker's name."))


def _same(new, old) -> bool:
    # Browsers send a textarea's line breaks as CRLF; what the desk stored may have either.
    if isinstance(new, str) and isinstance(old, str):
        return new == old.replace("\r\n", "\n")
    return new == old


class _FormData(dict):
    """The little of a MultiDict that WTForms reads."""

    def getlist(self, key):
        return [self[key]] if key in self else []


def _stores_something(new) -> bool:
    return bool(new[1] if isinstance(new, tuple) else new)


def _belongs_to_another(customer: Customer, field_name: str, new) -> bool:
    others = Customer.select().where(Customer.id != customer.id)
    # Every index the value may carry right now: during a key rotation, old rows keep the old one.
    if field_name in ("phone", "alt_phone") and new:
        indexes = blind_indexes("phone", new)
        return others.where(
            Customer.phone_index.in_(indexes) | Customer.alt_phone_index.in_(indexes)
        ).exists()
    if field_name == "id_number" and new[1]:
        return others.where(Customer.id_index.in_(blind_indexes("id", new[1]))).exists()
    return False


def _duplicate_message(field_name: str):
    if field_name == "id_number":
        return _l("This ID number already belongs to another customer.")
    return _l("This phone number already belongs to another customer.")


def _apply(customer: Customer, field_name: str, new) -> list:
    """Set the new value (through the blind-index setters for phone and ID); the columns touched."""
    if field_name == "phone":
        set_phone(customer, new)
        return [Customer.phone, Customer.phone_index]
    if field_name == "alt_phone":
        set_alt_phone(customer, new)
        return [Customer.alt_phone, Customer.alt_phone_index]
    if field_name == "id_number":
        set_id_number(customer, *new)
        return [Customer.id_type, Customer.id_number, Customer.id_index]
    setattr(customer, field_name, new)
    return [getattr(Customer, field_name)]


def _save(
    customer: Customer, actor: User, action: str, changes: dict, columns: list, before: dict, error_field: str
):
    """Write only the columns this change touched, with its audit row, in one transaction.

    On a unique-index refusal the customer object gets its values from `before` back."""
    customer.updated_at = now()
    try:
        with write_transaction():
            customer.save(only=[*columns, Customer.updated_at])
            AuditLog.on_customer(customer, actor, action, changes)
    except IntegrityError:
        # Another customer took the same phone or ID between our check and the write.
        customer.__data__ = before
        raise ProfileError(error_field, _duplicate_message(error_field)) from None


def next_stages(customer: Customer) -> list[str]:
    """Forward through the funnel, or to lost; a lost customer may come back at any stage."""
    if customer.stage not in FUNNEL:
        return list(FUNNEL)
    return [*FUNNEL[FUNNEL.index(customer.stage) + 1 :], "lost"]


def change_stage(customer: Customer, actor: User, stage: str, lost_reason: str = "") -> Customer:
    stage, lost_reason = (stage or "").strip(), (lost_reason or "").strip()
    if stage not in STAGES:
        raise ProfileError("stage", _l("Choose a stage from the list."))
    if stage == customer.stage:
        return customer
    if stage not in next_stages(customer):
        raise ProfileError("stage", _l("A customer moves forward only; only a lost customer goes back."))
    if stage == "lost" and not lost_reason:
        raise ProfileError("lost_reason", _l("Say why the customer was lost."))
    if len(lost_reason) > 200:
        raise ProfileError("lost_reason", _l("Keep the reason under 200 characters."))
    changes = {"stage": [customer.stage, stage]}
    if stage == "lost":
        changes["lost_reason"] = lost_reason
    before = dict(customer.__data__)
    customer.stage = stage
    customer.lost_reason = lost_reason if stage == "lost" else ""
    columns = [Customer.stage, Customer.lost_reason]
    _save(customer, actor, "stage_changed", changes, columns, before, "stage")
    return customer


def record_sensitive_consent(customer: Customer, actor: User) -> Customer:
    """The rep confirms the customer agreed separately to ID and financial details being stored."""
    if customer.sensitive_consent_at:
        return customer
    before = dict(customer.__data__)
    customer.sensitive_consent_at = now()
    changes = {"sensitive_consent": "recorded"}
    _save(customer, actor, "sensitive_consent", changes, [Customer.sensitive_consent_at], before, "consent")
    return customer


def field_history(customer: Customer) -> list[AuditLog]:
    """Field, stage and grade changes, newest first; personal fields carry "changed" only."""
    return list(
        AuditLog.select()
        .where(AuditLog.customer == customer, AuditLog.action.in_(HISTORY_ACTIONS))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
    )
