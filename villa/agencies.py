"""Agencies (中介公司) and their brokers (经纪人) as records, kept by the admin and the sales managers.

An agency has a name (unique), the dates of its contract with the office and an active flag; a broker
belongs to one agency, with a name and a phone (encrypted, with a blind index like customers' phones;
pages show it masked only). Nothing is deleted: an agency or broker that stops working with the office
is deactivated and stays on the 报备 made through it. Every change is one
transaction with its audit row, in words (villa.log_words): agency_added, agency_changed,
agency_deactivated, agency_reactivated, and the same for brokers. Personal data (the broker's phone)
is logged as "changed", never in clear.
"""

import json
from collections.abc import Mapping
from datetime import date

from peewee import IntegrityError, fn

from villa.crypto import blind_index
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.identity import IdentityError, mask_phone, normalise_phone
from villa.models import Agency, AuditLog, Broker, User

NAME_MAX = {"agency": 60, "broker": 40}


class AgencyProblem(ValueError):
    """Nothing was saved; `errors` maps each form field to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(message) for message in errors.values()))
        self.errors = errors


def agencies_listed() -> list[Agency]:
    """Every agency, active ones first, each with `brokers` (how many active brokers it has)."""
    brokers = dict(
        Broker.select(Broker.agency, fn.COUNT(Broker.id))
        .where(Broker.active == True)  # noqa: E712
        .group_by(Broker.agency)
        .tuples()
    )
    listed = list(Agency.select().order_by(Agency.active.desc(), Agency.name))
    for agency in listed:
        agency.brokers = brokers.get(agency.id, 0)
    return listed


def brokers_listed(agency_id: int | None = None) -> list[Broker]:
    """Brokers (of one agency, or all), active ones first, each with `phone_shown` masked."""
    query = (
        Broker.select(Broker, Agency).join(Agency).order_by(Broker.active.desc(), Agency.name, Broker.name)
    )
    if agency_id is not None:
        query = query.where(Broker.agency == agency_id)
    listed = list(query)
    for broker in listed:
        broker.phone_shown = shown_phone(broker)
    return listed


def shown_phone(broker: Broker) -> str:
    """The broker's phone as every page shows it: masked (the full number is never shown)."""
    return mask_phone(broker.phone) if broker.phone else "—"


def active_agencies() -> list[Agency]:
    return list(Agency.select().where(Agency.active == True).order_by(Agency.name))  # noqa: E712


def add_agency(values: Mapping, actor: User) -> Agency:
    """A new agency from the form's values (name, contract_start, contract_end)."""
    name, start, end = _agency_fields(values)
    if Agency.select().where(Agency.name == name).exists():
        raise AgencyProblem({"name": _taken()})
    try:
        with db.atomic():
            agency = Agency.create(name=name, contract_start=start, contract_end=end, active=True)
            details = {"name": name, "contract_start": _iso(start), "contract_end": _iso(end)}
            _audit(actor, "agency_added", f"agency:{agency.id}", details)
    except IntegrityError:  # two people adding the same name at once: the unique index decides
        raise AgencyProblem({"name": _taken()}) from None
    return agency


def change_agency(agency: Agency, values: Mapping, actor: User) -> dict:
    """Rename the agency or change its contract dates; returns {field: [old, new]}."""
    name, start, end = _agency_fields(values)
    if name != agency.name and Agency.select().where(Agency.name == name, Agency.id != agency.id).exists():
        raise AgencyProblem({"name": _taken()})
    new = {"name": name, "contract_start": start, "contract_end": end}
    changes = {
        field: [getattr(agency, field), value]
        for field, value in new.items()
        if getattr(agency, field) != value
    }
    if not changes:
        return {}
    for field, value in new.items():
        setattr(agency, field, value)
    try:
        with db.atomic():
            agency.save()
            logged = {field: [_iso(old), _iso(value)] for field, (old, value) in changes.items()}
            _audit(actor, "agency_changed", f"agency:{agency.id}", logged)
    except IntegrityError:
        raise AgencyProblem({"name": _taken()}) from None
    return changes


def set_agency_active(agency: Agency, active: bool, actor: User) -> bool:
    """Deactivate the agency or reactivate it; False when it already was so."""
    return _set_active(agency, active, actor, "agency")


def add_broker(values: Mapping, actor: User) -> Broker:
    """A new broker from the form's values (agency, name, phone)."""
    agency, name, phone = _broker_fields(values, phone_required=True)
    index = blind_index("phone", phone)
    if Broker.select().where(Broker.phone_index == index).exists():
        raise AgencyProblem({"phone": _phone_taken()})
    try:
        with db.atomic():
            broker = Broker.create(agency=agency, name=name, phone=phone, phone_index=index, active=True)
            details = {"agency": agency.name, "name": name, "phone": "recorded"}
            _audit(actor, "broker_added", f"broker:{broker.id}", details)
    except IntegrityError:
        raise AgencyProblem({"phone": _phone_taken()}) from None
    return broker


def change_broker(broker: Broker, values: Mapping, actor: User) -> dict:
    """Move the broker to another agency, rename them or change their phone (empty: unchanged)."""
    agency, name, phone = _broker_fields(values, phone_required=False)
    changes = {}
    if agency.id != broker.agency_id:
        changes["agency"] = [broker.agency.name, agency.name]
        broker.agency = agency
    if name != broker.name:
        changes["name"] = [broker.name, name]
        broker.name = name
    if phone and phone != broker.phone:
        index = blind_index("phone", phone)
        if Broker.select().where(Broker.phone_index == index, Broker.id != broker.id).exists():
            raise AgencyProblem({"phone": _phone_taken()})
        changes["phone"] = "changed"
        broker.phone, broker.phone_index = phone, index
    if not changes:
        return {}
    try:
        with db.atomic():
            broker.save()
            _audit(actor, "broker_changed", f"broker:{broker.id}", changes)
    except IntegrityError:
        raise AgencyProblem({"phone": _phone_taken()}) from None
    return changes


def set_broker_active(broker: Broker, active: bool, actor: User) -> bool:
    """Deactivate the broker or reactivate them; a deactivated broker's login stops working
    (villa.broker_accounts.login_refusal) and their open sessions end."""
    with db.atomic():
        changed = _set_active(broker, active, actor, "broker")
        if changed and not active and broker.user_id is not None:
            User.end_sessions(broker.user_id)
    return changed


def _set_active(record, active: bool, actor: User, kind: str) -> bool:
    model = type(record)
    with db.atomic():
        changed = model.update(active=active).where(model.id == record.id, model.active != active).execute()
        if changed:
            action = f"{kind}_reactivated" if active else f"{kind}_deactivated"
            _audit(
                actor, action, f"{kind}:{record.id}", {"name": record.name, "active": [not active, active]}
            )
    record.active = active
    return bool(changed)


def _agency_fields(values: Mapping) -> tuple[str, date | None, date | None]:
    errors = {}
    name = " ".join(str(values.get("name") or "").split())
    if not name:
        errors["name"] = _l("Enter the agency's name.")
    elif len(name) > NAME_MAX["agency"]:
        errors["name"] = _l("Keep the name under %(max)d characters.", max=NAME_MAX["agency"])
    start, end = values.get("contract_start"), values.get("contract_end")
    if start and end and end < start:
        errors["contract_end"] = _l("The contract cannot end before it starts.")
    if errors:
        raise AgencyProblem(errors)
    return name, start or None, end or None


def _broker_fields(values: Mapping, phone_required: bool) -> tuple[Agency, str, str | None]:
    errors = {}
    agency = Agency.get_or_none(Agency.id == _int(values.get("agency")))
    if agency is None:
        errors["agency"] = _l("Choose the broker's agency.")
    name = " ".join(str(values.get("name") or "").split())
    if not name:
        errors["name"] = _l("Enter the broker's name.")
    elif len(name) > NAME_MAX["broker"]:
        errors["name"] = _l("Keep the name under %(max)d characters.", max=NAME_MAX["broker"])
    raw, phone = str(values.get("phone") or "").strip(), None
    if raw or phone_required:
        try:
            phone = normalise_phone(raw)
        except IdentityError as problem:
            errors["phone"] = problem.args[0] if problem.args else _l("Enter a phone number.")
    if errors:
        raise AgencyProblem(errors)
    return agency, name, phone


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


def _taken():
    return _l("An agency of this name is already on record: choose another name, or change that one.")


def _phone_taken():
    return _l("A broker with this phone number is already on record.")


def _audit(actor: User, action: str, target: str, changes: dict):
    AuditLog.create(
        actor=actor, action=action, target=target, changes=json.dumps(changes, ensure_ascii=False)
    )
