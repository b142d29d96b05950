"""The incident register: a leak of customer data, or the suspicion of one, from its discovery to
its closing — who was affected, the notice each of them gets, the measures taken, the report to the
authority and who was held responsible. The audit team and the admin keep it; every step writes an
audit row (target `incident:<id>`), and the export of an incident's record is access-logged.

The affected customers come from the access log (one user's reveals, lookups and exports in a time
window) or from a list of phones, matched through the blind index; the list itself is not kept.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from peewee import JOIN, fn

from villa import settings
from villa.crypto import blind_indexes
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.identity import IdentityError, normalise_phone
from villa.messaging import deliver
from villa.models import AccessLog, AuditLog, Customer, Incident, IncidentCustomer, OutboxMessage, User, now

KEEPERS = ("auditor", "admin")
ACCESS_ACTIONS = ("reveal", "lookup", "export")
NOTICE_KIND = "incident"
PHONE_LIST_MAX_LINES = 20_000
_CHUNK = 500


class IncidentProblem(Exception):
    """A step the incident refuses; `field` names the form field it belongs to, if any."""

    def __init__(self, message, field: str = ""):
        super().__init__(str(message))
        self.message, self.field = message, field


def _check_open(incident: Incident):
    if incident.closed_at is not None:
        raise IncidentProblem(_l("This incident is closed: its record can no longer change."))


def open_incident(what: str, found_at: datetime, suspected_scope: str, actor: User) -> Incident:
    """Register an incident; `found_at` is naive UTC, as stored."""
    if found_at > now():
        raise IncidentProblem(_l("The time it was found cannot be in the future."), "found_at")
    with db.atomic():
        incident = Incident.create(
            what=what.strip(),
            found_at=found_at,
            suspected_scope=suspected_scope.strip(),
            opened_by=actor,
            message_template=settings.read("incident_message_template"),
        )
        _audit(actor, incident, "incident_opened", {"found_at": found_at.isoformat(timespec="minutes")})
    return incident


# Gathering the affected customers


@dataclass
class Gathered:
    """What a search of the access log found."""

    found: int  # customers in the log for that user and window
    added: int  # of them, new to the incident
    exports_without_customers: int  # exports of a list: the log cannot say whose data they held


def gather_from_access_log(incident: Incident, user: User, start: datetime, end: datetime, actor: User):
    """Add the customers whose data `user` revealed, looked up or exported between start and end."""
    _check_open(incident)
    if end <= start:
        raise IncidentProblem(_l("The end must come after the start."), "end")
    window = (AccessLog.actor == user) & (AccessLog.at >= start) & (AccessLog.at < end)
    found = [
        customer_id
        for (customer_id,) in AccessLog.select(AccessLog.customer)
        .where(window, AccessLog.action.in_(ACCESS_ACTIONS), AccessLog.customer.is_null(False))
        .distinct()
        .tuples()
    ]
    exports = (
        AccessLog.select().where(window, AccessLog.action == "export", AccessLog.customer.is_null()).count()
    )
    details = {
        "source": "access_log",
        "user": user.id,
        "from": start.isoformat(timespec="minutes"),
        "to": end.isoformat(timespec="minutes"),
        "found": len(found),
        "exports_without_customers": exports,
    }
    added = _add_customers(incident, found, "access_log", actor, details)
    return Gathered(len(found), added, exports)


@dataclass
class PhoneListReport:
    lines: int = 0  # non-blank lines read
    matched: int = 0  # customers found
    added: int = 0  # of them, new to the incident
    not_found: list = field(default_factory=list)  # line numbers of good numbers no customer has
    bad_lines: list = field(default_factory=list)  # (line number, why)


def add_phone_list(incident: Incident, content: bytes, actor: User) -> PhoneListReport:
    """Add the customers whose phone (or second phone) is on the uploaded list, one number a line.

    Lines that are not a phone number are reported by number with the reason; nothing of the list
    is stored beyond the customers it matched."""
    _check_open(incident)
    report, wanted = PhoneListReport(), {}  # blind index -> line numbers
    for number, line in enumerate(_decode(content).splitlines(), start=1):
        text = line.strip().strip(",;\t").strip()
        if not text:
            continue
        report.lines += 1
        if report.lines > PHONE_LIST_MAX_LINES:
            raise IncidentProblem(
                _l("The list has more than %(max)d numbers: split it.", max=PHONE_LIST_MAX_LINES), "phones"
            )
        try:
            normalised = normalise_phone(text)
        except IdentityError as exc:
            report.bad_lines.append((number, exc.message))
            continue
        for index in blind_indexes("phone", normalised):
            wanted.setdefault(index, []).append(number)
    matched, seen_lines = _customers_by_index(list(wanted))
    report.matched = len(matched)
    found_lines = {line for index in seen_lines for line in wanted[index]}
    report.not_found = sorted({line for lines in wanted.values() for line in lines} - found_lines)
    details = {
        "source": "phone_list",
        "lines": report.lines,
        "bad_lines": len(report.bad_lines),
        "found": report.matched,
        "not_found": len(report.not_found),
    }
    report.added = _add_customers(incident, matched, "phone_list", actor, details)
    return report


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("gb18030", errors="replace")  # a list saved by Excel on a Chinese PC


def _customers_by_index(indexes: list[str]) -> tuple[list[int], set[str]]:
    """The customers carrying any of these phone indexes (first or second phone), and which matched."""
    found, seen = set(), set()
    for start in range(0, len(indexes), _CHUNK):
        chunk = indexes[start : start + _CHUNK]
        rows = Customer.select(Customer.id, Customer.phone_index, Customer.alt_phone_index).where(
            Customer.phone_index.in_(chunk) | Customer.alt_phone_index.in_(chunk)
        )
        for customer_id, phone_index, alt_index in rows.tuples():
            found.add(customer_id)
            seen.update({phone_index, alt_index} & set(chunk))
    return sorted(found), seen


def _add_customers(incident, customer_ids: list[int], source: str, actor: User, details: dict) -> int:
    with db.atomic():
        known = {
            customer_id
            for (customer_id,) in IncidentCustomer.select(IncidentCustomer.customer)
            .where(IncidentCustomer.incident == incident)
            .tuples()
        }
        new = [customer_id for customer_id in customer_ids if customer_id not in known]
        moment = now()
        rows = [{"incident": incident.id, "customer": c, "source": source, "added_at": moment} for c in new]
        for start in range(0, len(rows), _CHUNK):
            IncidentCustomer.insert_many(rows[start : start + _CHUNK]).execute()
        _audit(actor, incident, "incident_customers_added", {**details, "added": len(new)})
    return len(new)


def affected(incident: Incident, limit: int | None = None):
    """The incident's customers with their notice, in the order they were added."""
    query = (
        IncidentCustomer.select(IncidentCustomer, Customer, OutboxMessage)
        .join(Customer)
        .switch(IncidentCustomer)
        .join(OutboxMessage, join_type=JOIN.LEFT_OUTER)
        .where(IncidentCustomer.incident == incident)
        .order_by(IncidentCustomer.id)
    )
    return query.limit(limit) if limit else query


def affected_counts() -> dict[int, int]:
    """How many customers each incident affected, by incident id."""
    rows = IncidentCustomer.select(IncidentCustomer.incident, fn.COUNT(IncidentCustomer.id))
    return dict(rows.group_by(IncidentCustomer.incident).tuples())


def affected_count(incident: Incident) -> int:
    return IncidentCustomer.select().where(IncidentCustomer.incident == incident).count()


def notice_counts(incident: Incident) -> dict[str, int]:
    """The incident's notices by outbox status (to_send, sent, failed), and those not drafted yet."""
    rows = (
        IncidentCustomer.select(OutboxMessage.status, fn.COUNT(IncidentCustomer.id))
        .join(OutboxMessage, join_type=JOIN.LEFT_OUTER)
        .where(IncidentCustomer.incident == incident)
        .group_by(OutboxMessage.status)
        .tuples()
    )
    return {status or "not_drafted": count for status, count in rows}


# Telling the customers


def set_template(incident: Incident, text: str, actor: User) -> bool:
    """The notice this incident's customers get ({name}: the customer's name); checked like the setting."""
    _check_open(incident)
    typed, problems = settings.CHECKS["incident_message_template"](text, "message_template")
    if problems:
        raise IncidentProblem(problems["message_template"], "message_template")
    if typed == incident.message_template:
        return False
    incident.message_template = typed
    with db.atomic():
        incident.save()
        _audit(actor, incident, "incident_notice_changed", {"characters": len(typed)})
    return True


@dataclass
class Drafted:
    drafted: int
    without_phone: int  # anonymised since: nobody to write to


def draft_notices(incident: Incident, actor: User) -> Drafted:
    """Put the notice for each affected customer not yet written to into the customer outbox, then
    hand each to the SMS gateway (or leave it for the desk to send by hand, as every message)."""
    _check_open(incident)
    pending = (
        IncidentCustomer.select(IncidentCustomer, Customer)
        .join(Customer)
        .where(IncidentCustomer.incident == incident, IncidentCustomer.message.is_null())
        .order_by(IncidentCustomer.id)
    )
    messages, without_phone = [], 0
    with db.atomic():
        for entry in pending:
            customer = entry.customer
            if customer.anonymised_at is not None or not customer.phone:
                without_phone += 1
                continue
            body = incident.message_template.replace("{name}", customer.name)
            message = OutboxMessage.create(customer=customer, kind=NOTICE_KIND, body=body[:500])
            IncidentCustomer.update(message=message).where(IncidentCustomer.id == entry.id).execute()
            messages.append(message)
        _audit(
            actor, incident, "incident_notices_drafted", {"drafted": len(messages), "no_phone": without_phone}
        )
    for message in messages:  # after the commit: a gateway that fails leaves the message "failed"
        deliver(message)
    return Drafted(len(messages), without_phone)


# The record, and closing it

RECORD_FIELDS = ("measures", "reported_at", "reported_to", "responsible")


def record(incident: Incident, values: dict, actor: User) -> list[str]:
    """Write the measures taken, the report to the authority and who was held responsible; returns
    the fields that changed. A report needs both when and to whom."""
    _check_open(incident)
    values = {key: values.get(key) for key in RECORD_FIELDS}
    for key in ("measures", "reported_to", "responsible"):
        values[key] = (values[key] or "").strip()
    if bool(values["reported_at"]) != bool(values["reported_to"]):
        missing = "reported_to" if values["reported_at"] else "reported_at"
        raise IncidentProblem(_l("A report to the authority needs both when and to whom."), missing)
    if values["reported_at"] and values["reported_at"] > now():
        raise IncidentProblem(_l("The report cannot be in the future."), "reported_at")
    changed = [key for key in RECORD_FIELDS if getattr(incident, key) != values[key]]
    if changed:
        for key in changed:
            setattr(incident, key, values[key])
        with db.atomic():
            incident.save()
            _audit(actor, incident, "incident_recorded", {"changed": changed})
    return changed


def close(incident: Incident, actor: User) -> Incident:
    """Close the incident; its measures must be on record first."""
    _check_open(incident)
    if not incident.measures.strip():
        raise IncidentProblem(_l("Record the measures taken before closing the incident."), "measures")
    incident.closed_at, incident.closed_by = now(), actor
    with db.atomic():
        incident.save()
        _audit(actor, incident, "incident_closed", {"affected": affected_count(incident)})
    return incident


def history(incident: Incident):
    """Every step of the incident, oldest first."""
    return (
        AuditLog.select(AuditLog, User)
        .join(User, join_type=JOIN.LEFT_OUTER)
        .where(AuditLog.target == f"incident:{incident.id}")
        .order_by(AuditLog.at, AuditLog.id)
    )


def _audit(actor: User, incident: Incident, action: str, details: dict):
    AuditLog.create(
        actor=actor,
        action=action,
        target=f"incident:{incident.id}",
        changes=json.dumps(details, ensure_ascii=False),
    )
