"""确客 at the desk: the 报备 a customer at the desk matches, and confirming it on registration.

A full phone matches a 报备 given in full; a 前三后四 报备 matches only with the surname the desk
typed as well. An open 报备 past its validity shows as expired (before the daily run has marked it)
and binds nothing; registering a customer with a valid one confirms it in the same transaction.
"""

from dataclasses import dataclass

from peewee import JOIN, SQL

from villa.crypto import blind_index_pair
from villa.identity import try_normalise_phone
from villa.models import Agency, AuditLog, Broker, Channel, Customer, Report, User, now
from villa.prepared import Prepared, slot
from villa.report_input import surname_of
from villa.reports import is_valid


@dataclass
class ReportMatch:
    """A 报备 found for the phone (and name) typed at the desk, as the desk sees it."""

    report: Report
    agency: str
    broker: str
    valid: bool


FOUND = ("open", "expired")  # the statuses the desk is told about


def _reports(condition):
    """A customer's newest 报备 of FOUND's statuses with its broker's and agency's names (the
    desk's duplicate check runs it on every complete phone: its SQL is built once)."""
    return (
        Report.select(Report, Broker.name.alias("broker_name"), Agency.name.alias("agency_name"))
        .join(Broker, JOIN.INNER, on=(Report.broker == Broker.id))
        .switch(Report)
        .join(Agency, JOIN.INNER, on=(Report.agency == Agency.id))
        .where(condition, Report.status.in_([slot(), slot()]))
        .order_by(Report.reported_at.desc())
        .limit(SQL("5"))
    )


_by_phone = Prepared(lambda: _reports(Report.phone_index.in_([slot(), slot()])))
# Or given as 前三后四 (no full phone): its mask, with the surname the desk typed.
_by_phone_or_mask = Prepared(
    lambda: _reports(
        Report.phone_index.in_([slot(), slot()])
        | (Report.phone_index.is_null() & (Report.phone_mask == slot()) & (Report.surname == slot()))
    )
)


def find_report(phone: str, name: str = "") -> ReportMatch | None:
    """The newest open or expired 报备 of this customer: a valid one before any expired one."""
    full = try_normalise_phone(phone or "")
    if not full or not (len(full) == 14 and full.startswith("+861")):
        return None
    indexes = blind_index_pair("phone", full)
    surname = surname_of(name)
    if surname:
        rows = list(_by_phone_or_mask.rows(*indexes, f"{full[3:6]}****{full[-4:]}", surname, *FOUND))
    else:
        rows = list(_by_phone.rows(*indexes, *FOUND))
    if not rows:
        return None
    at = now()
    best = next((r for r in rows if is_valid(r, at)), rows[0])
    return ReportMatch(best, best.agency_name, best.broker_name, is_valid(best, at))


def binding_report(phone: str, name: str) -> Report | None:
    """The valid open 报备 that registering this customer confirms, or None."""
    match = find_report(phone, name)
    return match.report if match and match.valid else None


def broker_channel() -> Channel | None:
    """The channel a confirmed 报备's customer comes by: `broker`, else the first active broker kind."""
    channels = [c for c in Channel.active_list() if c.kind == "broker"]
    return next((c for c in channels if c.code == "broker"), channels[0] if channels else None)


def confirm(report: Report, customer: Customer, actor: User) -> bool:
    """确客: inside the registration's transaction; False when the 报备 was no longer open."""
    at = now()
    done = (
        Report.update(
            status="confirmed", open_key=None, confirmed_at=at, confirmed_by=actor, customer=customer
        )
        .where(Report.id == report.id, Report.status == "open", Report.valid_until >= at)
        .execute()
    )
    if done:
        details = {"report": report.id, "agency": report.agency.name, "broker": report.broker.name}
        AuditLog.on_customer(customer, actor, "report_confirmed", details, at=at)
    return bool(done)


def report_values(report: Report) -> dict:
    """The customer's columns a confirmed 报备 fills in: agency and broker by name."""
    return {"broker_agency": report.agency.name, "broker_name": report.broker.name}
