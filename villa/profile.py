"""Changing a registered customer field by field, with the history the office must keep.

Every change writes one audit row. Personal data (phone, ID number, address, WeChat, financial
details) is recorded there only as "changed", never with its values.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from flask_wtf.i18n import translations as wtforms_translations
from peewee import IntegrityError
from wtforms import Form

from villa.crypto import blind_indexes
from villa.customers import set_alt_phone, set_id_number, set_phone
from villa.db import write_transaction
from villa.fields import CUSTOMER_FIELDS
from villa.i18n import lazy_gettext as _l
from villa.identity import normalise_phone
from villa.models import DEAL_STAGES, STAGES, AuditLog, Customer, Deal, User, now
from villa.questions import MULTIPLE, QUESTIONS, join_answers, split_answers

FUNNEL = STAGES[:-1]  # registered → visited → pledged → subscribed → signed; "lost" stands apart
# A changed identity makes the approved registration a new one for the reviewers.
RESUBMIT_ON = ("name", "phone", "id_number")
# Numbers never shown in an edit form: the rep types them afresh, and they are compared normalised.
TYPED_FRESH = ("phone", "alt_phone", "id_number")
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

    `fields` are the villa.fields specs of its inputs, so the edit accepts exactly what the desk
    accepts, with the same checks. kind: plain (logged with values), personal (logged as "changed"),
    sensitive (personal, and stored only with the customer's separate consent).
    """

    label: object
    fields: dict
    kind: str = "plain"
    confidential: bool = False  # shown in clear only to who may see the customer in full

    @property
    def personal(self) -> bool:
        return self.kind != "plain"

    @property
    def hidden_from_others(self) -> bool:
        return self.personal or self.confidential


def _editable(*names: str, kind: str = "plain", **extra) -> Editable:
    """The last name is the field itself; any before it are asked with it (the ID's type)."""
    specs = {name: CUSTOMER_FIELDS[name] for name in names}
    return Editable(specs[names[-1]].label, specs, kind, **extra)


EDITABLE = {
    "name": _editable("name"),
    "gender": _editable("gender"),
    "age_band": _editable("age_band"),
    "phone": _editable("phone", kind="personal"),
    "alt_phone": _editable("alt_phone", kind="personal"),
    "address": _editable("address", kind="personal"),
    "wechat": _editable("wechat", kind="personal"),
    "id_number": _editable("id_type", "id_number", kind="sensitive"),
    "unit_type": _editable("unit_type"),
    "area_band": _editable("area_band"),
    "budget": _editable("budget"),
    "purpose": _editable("purpose"),
    "competing_projects": _editable("competing_projects"),
    "notes": _editable("notes", confidential=True),
    "hukou_local": _editable("hukou_local"),
    "social_insurance_months": _editable("social_insurance_months"),
    "homes_owned": _editable("homes_owned"),
    "payment_method": _editable("payment_method", kind="sensitive"),
    "asset_band": _editable("asset_band", kind="sensitive"),
    "credit_notes": _editable("credit_notes", kind="sensitive"),
    "referrer_name": _editable("referrer_name"),
    "broker_agency": _editable("broker_agency"),
    "broker_name": _editable("broker_name"),
    **{name: _editable(name) for name in QUESTIONS},
}


class CheckForm(Form):
    """The edit's validation outside a request: WTForms' messages still in the user's language."""

    class Meta:
        def get_translations(self, form):
            return wtforms_translations


@cache
def form_class(field_name: str, base: type = CheckForm) -> type:
    """A form holding just this field's inputs and their checks, as the desk's form has them."""
    specs = EDITABLE[field_name].fields
    attrs = {name: spec.unbound() for name, spec in specs.items()}
    attrs.update({f"validate_{name}": spec.check for name, spec in specs.items() if spec.check})
    return type(f"{field_name.title().replace('_', '')}Form", (base,), attrs)


def current_value(customer: Customer, field_name: str):
    if field_name == "id_number":
        return (customer.id_type, customer.id_number or None)
    value = getattr(customer, field_name)
    return (value or None) if field_name in _NULLABLE else value


def form_value(customer: Customer, field_name: str) -> str:
    """The stored value as an edit form shows it, and sends it back when left alone."""
    value = current_value(customer, field_name)
    if field_name == "hukou_local":
        return {True: "yes", False: "no"}.get(value, "")
    if field_name in MULTIPLE:
        return join_answers(value)
    return "" if value is None else str(value)


def update_field(customer: Customer, actor: User, field_name: str, values) -> Customer:
    """Change one field (ID type and number count as one); `values` is the raw text typed, or a
    mapping of input name to raw text such as the request's form. Raises ProfileError."""
    new = _new_value(customer, field_name, values)
    if new is not _UNCHANGED:
        _write(customer, actor, {field_name: new})
    return customer


class FieldsRefused(ValueError):
    """A section's save refused: `errors` maps each form input to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(message) for message in errors.values()))
        self.errors = errors


def update_fields(customer: Customer, actor: User, values_by_field: dict) -> list[str]:
    """Change several fields at once (a section of the client page): every field is checked first,
    then only those that changed are written, in one history row; nothing changed writes nothing.
    Returns the names of the fields changed. Raises FieldsRefused with every message."""
    errors, news = {}, {}
    for field_name, values in values_by_field.items():
        try:
            new = _new_value(customer, field_name, values)
        except ProfileError as refused:
            errors[refused.field] = refused.message
            continue
        if new is not _UNCHANGED:
            news[field_name] = new
    if errors:
        raise FieldsRefused(errors)
    if news:
        try:
            _write(customer, actor, news)
        except ProfileError as refused:
            raise FieldsRefused({refused.field: refused.message}) from None
    return list(news)


_UNCHANGED = object()


def _new_value(customer: Customer, field_name: str, values):
    """The field's checked new value, or _UNCHANGED. Raises ProfileError."""
    spec = EDITABLE.get(field_name)
    if spec is None:
        raise ProfileError(field_name, _l("This field cannot be changed here."))
    if _sent_back_unchanged(customer, field_name, values):
        return _UNCHANGED
    new = _validated(customer, field_name, spec, values)
    old = current_value(customer, field_name)
    if _same(new, old) or (field_name == "id_number" and new[1] is old[1] is None):
        return _UNCHANGED
    if spec.kind == "sensitive" and _stores_something(new) and not customer.sensitive_consent_at:
        raise ProfileError(
            field_name,
            _l("First record the customer's separate consent to storing ID and financial details."),
        )
    if _belongs_to_another(customer, field_name, new):
        raise ProfileError(field_name, _duplicate_message(field_name))
    return new


def _write(customer: Customer, actor: User, news: dict):
    """Store the new values with one history row; personal values only as "changed"."""
    changes = {
        name: "changed" if EDITABLE[name].personal else [current_value(customer, name), new]
        for name, new in news.items()
    }
    before = dict(customer.__data__)
    columns = [column for name, new in news.items() for column in _apply(customer, name, new)]
    if any(name in RESUBMIT_ON for name in news) and customer.review_status == "approved":
        customer.review_status = "pending_first"
        changes["review"] = "resubmitted"
        columns.append(Customer.review_status)
    error_field = next((name for name in TYPED_FRESH if name in news), next(iter(news)))
    _save(customer, actor, "field_changed", changes, columns, before, error_field)


def _validated(customer: Customer, field_name: str, spec: Editable, values):
    if not isinstance(values, Mapping):
        values = {field_name: "" if values is None else values, "id_type": customer.id_type}
    sent = {n: values.get(n) or "" for n in spec.fields}
    if field_name in MULTIPLE:
        sent[field_name] = split_answers(sent[field_name])
    elif not isinstance(sent[field_name], str):
        sent[field_name] = str(sent[field_name])
    form = form_class(field_name)(formdata=_FormData(sent))
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
    if field_name in MULTIPLE:
        return join_answers(data)
    if field_name == "phone":
        return form.normal_phone
    text = (data or "").strip().replace("\r\n", "\n")
    if field_name == "alt_phone":
        return normalise_phone(text) if text else None
    return (text or None) if field_name in _NULLABLE else text


def _sent_back_unchanged(customer: Customer, field_name: str, values) -> bool:
    """The form came back as it was shown: no change, whatever its rules say today (a band the
    list does not offer, a note from the legacy import longer than the form takes)."""
    if field_name in TYPED_FRESH:
        return False
    sent = values.get(field_name) if isinstance(values, Mapping) else values
    if field_name in MULTIPLE:  # the boxes come back in the list's order, not the stored one
        return sorted(split_answers(sent)) == sorted(split_answers(form_value(customer, field_name)))
    return _plain(sent) == _plain(form_value(customer, field_name))


def _plain(text) -> str:
    # Browsers send a textarea's line breaks as CRLF; what the desk stored may have either.
    return ("" if text is None else str(text)).replace("\r\n", "\n").strip()


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
        if key not in self:
            return []
        return list(self[key]) if isinstance(self[key], list) else [self[key]]


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
        return [Customer.phone, Customer.phone_index, Customer.phone_last4]
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
    if stage in DEAL_STAGES:
        raise ProfileError("stage", _l("Record the deal to move to this stage."))
    open_deals = Deal.select().where(Deal.customer == customer.id, Deal.status.in_(("pending", "confirmed")))
    if open_deals.where(Deal.status == "pending").exists():
        raise ProfileError("stage", _l("A deal of this customer is waiting for the manager's confirmation."))
    if stage == "lost" and open_deals.exists():
        raise ProfileError("stage", _l("Cancel the customer's deal first (退筹/退房), with its reason."))
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
