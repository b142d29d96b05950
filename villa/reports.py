"""报备: a broker records a customer before the visit; the first open 报备 of a customer wins.

A 报备 gives the phone in full or as 前三后四 (138****8000). It is refused when the customer is
already known to the office (registered, or in an open 报备 of any agency), and the answer never says
whose. The database decides races: `Report.open_key` (a keyed HMAC of 前三后四 and surname) is unique
while the 报备 is open, so a full-phone and a 前三后四 报备 of the same customer collide.

Status: open (待到访) until the desk confirms it (已确客) or it lapses (已失效) at the end of the office
day `report_valid_days` after it was made. 已成交 is not stored: a confirmed 报备 whose customer has
reached 认购 or 签约. The desk's side (the match while typing, 确客 on registering) is in
villa.report_desk.
"""

import json
from datetime import date, datetime, timedelta

from peewee import IntegrityError

from villa import settings
from villa.broker_accounts import INACTIVE
from villa.clock import OFFICE_UTC_OFFSET, office_day_start
from villa.crypto import blind_index, blind_indexes
from villa.db import db, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, Broker, Customer, Report, User, now
from villa.rate_limits import count_hit
from villa.report_input import ReportPhone, ReportProblem, check_input, surname_of

HOUR = timedelta(hours=1)
IP_FACTOR = 3  # an address (an agency's office) may send this many times one account's limit
DEALT_STAGES = ("subscribed", "signed")  # 已成交
REFUSED_MESSAGE = _l("The customer is already known: this pre-registration is not valid.")
STATUS_LABELS = {
    "open": _l("Awaiting visit"),
    "confirmed": _l("Visit confirmed"),
    "expired": _l("Expired"),
    "dealt": _l("Deal made"),
}


class ReportRefused(Exception):
    """A 报备 the office does not take: `reason` is logged, `message` shown, `status` answered."""

    STATUS = {"customer_known": 409, "already_reported": 409, "too_many": 429}

    def __init__(self, reason: str, message):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = self.STATUS.get(reason, 403)


def open_key_text(mask: str, surname: str) -> str:
    """What an open 报备's open_key is the blind index of (villa.keys re-keys it the same way)."""
    return f"{mask}|{surname}"


def open_key(phone: ReportPhone, surname: str) -> str:
    return blind_index("report", open_key_text(phone.mask, surname))


def _open_keys(phone: ReportPhone, surname: str) -> list[str]:
    return blind_indexes("report", open_key_text(phone.mask, surname))


def office_date(moment: datetime) -> date:
    return (moment + OFFICE_UTC_OFFSET).date()


def valid_until_for(reported_at: datetime) -> datetime:
    """The last second of the office day `report_valid_days` after the day of the 报备."""
    last_day = office_date(reported_at) + timedelta(days=settings.read("report_valid_days"))
    return office_day_start(last_day + timedelta(days=1)) - timedelta(seconds=1)


def is_valid(report: Report, at: datetime | None = None) -> bool:
    """Open and not past its validity at `at` (the daily run may not have expired it yet)."""
    return report.status == "open" and (at or now()) <= report.valid_until


def shown_status(report: Report, customer_stage: str | None = None, at: datetime | None = None) -> str:
    """The status the broker sees: open, confirmed, expired or dealt."""
    if report.status == "open" and not is_valid(report, at):
        return "expired"
    if report.status == "confirmed" and customer_stage in DEALT_STAGES:
        return "dealt"
    return report.status


# Who may report, and whether the customer is free.


def broker_refusal(broker: Broker | None, today: date | None = None) -> ReportRefused | None:
    """Why this broker may not report now, or None."""
    if broker is None or not broker.active:
        return ReportRefused("broker_inactive", INACTIVE)
    agency = broker.agency
    today = today or office_date(now())
    outside = (agency.contract_start and today < agency.contract_start) or (
        agency.contract_end and today > agency.contract_end
    )
    if not agency.active or outside:
        return ReportRefused(
            "agency_inactive",
            _l("Your agency has no current contract with the sales office: no pre-registrations are taken."),
        )
    return None


def customer_known(phone: ReportPhone, surname: str) -> bool:
    """Registered already: by the full phone's blind index; for 前三后四, a customer with the same last
    four digits and surname whose phone starts with the same three digits (the few are decrypted)."""
    if phone.full:
        indexes = blind_indexes("phone", phone.full)
        query = Customer.select(Customer.id).where(
            Customer.phone_index.in_(indexes) | Customer.alt_phone_index.in_(indexes)
        )
        return query.exists()
    candidates = Customer.select(Customer.id, Customer.phone).where(
        Customer.phone_last4 == phone.last4,
        Customer.name.startswith(surname),
        Customer.anonymised_at.is_null(),
    )
    return any(_mask_of(c.phone) == phone.mask for c in candidates)


def _mask_of(stored_phone: str | None) -> str | None:
    if stored_phone and len(stored_phone) == 14 and stored_phone.startswith("+861"):
        return f"{stored_phone[3:6]}****{stored_phone[-4:]}"
    return None


def open_reports(phone: ReportPhone, surname: str | None):
    """Open 报备 of this customer: the same full phone, or the same 前三后四 and surname."""
    condition = None
    if phone.full:
        condition = Report.phone_index.in_(blind_indexes("phone", phone.full))
    if surname:
        by_key = Report.open_key.in_(_open_keys(phone, surname))
        condition = by_key if condition is None else condition | by_key
    if condition is None:
        return Report.select().where(Report.id < 0)
    return Report.select().where(condition, Report.status == "open")


def _expire_lapsed(query, at: datetime) -> int:
    """Open 报备 of the query past their validity become expired (their open_key freed)."""
    ids = [r.id for r in query if r.valid_until < at]
    if not ids:
        return 0
    return (
        Report.update(status="expired", open_key=None)
        .where(Report.id.in_(ids), Report.status == "open")
        .execute()
    )


# Making one.


def make_report(
    broker: Broker | None, actor: User, customer_name: str, phone: str, expected_visit: str, ip: str
):
    """Record a 报备 for `broker` (by the broker's own account or channel staff); every refusal logged."""
    at = now()
    try:
        refusal = broker_refusal(broker, office_date(at))
        if refusal:
            raise refusal
        if actor.role == "broker":
            _count_attempt(actor, ip)
        name, parsed, visit = check_input(customer_name, phone, expected_visit, office_date(at))
        return _insert(broker, actor, name, parsed, visit, at)
    except ReportProblem as bad:
        _log_refused(actor, broker, "invalid_input", {"fields": sorted(bad.problems)})
        raise
    except ReportRefused as refused:
        _log_refused(actor, broker, refused.reason)
        raise


def _count_attempt(actor: User, ip: str):
    limit = settings.read("report_limit_per_hour")
    if count_hit(f"report:user:{actor.id}", limit, HOUR) or count_hit(
        f"report:ip:{ip}", limit * IP_FACTOR, HOUR
    ):
        raise ReportRefused(
            "too_many", _l("Too many pre-registrations in the last hour. Wait and try again later.")
        )


def _insert(broker: Broker, actor: User, name: str, phone: ReportPhone, visit: date, at: datetime) -> Report:
    surname = surname_of(name)
    if customer_known(phone, surname):
        raise ReportRefused("customer_known", REFUSED_MESSAGE)
    try:
        with write_transaction():
            holders = open_reports(phone, surname)
            _expire_lapsed(holders, at)
            if holders.where(Report.valid_until >= at).exists():
                raise ReportRefused("already_reported", REFUSED_MESSAGE)
            report = Report.create(
                broker=broker,
                agency=broker.agency_id,
                customer_name=name,
                surname=surname,
                phone=phone.full,
                phone_index=blind_index("phone", phone.full) if phone.full else None,
                phone_mask=phone.mask,
                expected_visit=visit,
                reported_at=at,
                valid_until=valid_until_for(at),
                status="open",
                open_key=open_key(phone, surname),
                created_by=actor,
            )
            _audit(actor, "report_made", report, {"broker": broker.name, "agency": broker.agency.name})
    except IntegrityError:
        # Another agency's 报备 of the same customer was written a moment ago: the first one wins.
        raise ReportRefused("already_reported", REFUSED_MESSAGE) from None
    return report


def _audit(actor: User | None, action: str, report: Report, changes: dict):
    AuditLog.create(
        actor=actor,
        action=action,
        target=f"report:{report.id}",
        changes=json.dumps(changes, ensure_ascii=False),
    )


def _log_refused(actor: User, broker: Broker | None, reason: str, changes: dict | None = None):
    details = {"refused": reason, **(changes or {})}
    if broker is not None:
        details.update(broker=broker.name, agency=broker.agency.name)
    with db.atomic():
        AuditLog.create(
            actor=actor,
            action="report_refused",
            target=f"user:{actor.id}",
            changes=json.dumps(details, ensure_ascii=False),
        )


# The broker's list, expiry.


def broker_reports(broker: Broker, limit: int = 200) -> list[dict]:
    """The broker's own 报备, newest first, as the broker may see them: the name they typed, the
    前三后四, dates and the status; nothing of the office's record of the customer."""
    rows = (
        Report.select(Report, Customer.stage)
        .left_outer_join(Customer, on=(Report.customer == Customer.id))
        .where(Report.broker == broker)
        .order_by(Report.reported_at.desc(), Report.id.desc())
        .limit(limit)
        .objects()
    )
    at = now()
    return [
        {
            "customer_name": r.customer_name,
            "phone_mask": r.phone_mask,
            "expected_visit": r.expected_visit,
            "reported_at": r.reported_at,
            "valid_until": r.valid_until,
            "status": shown_status(r, r.stage, at),
        }
        for r in rows
    ]


def expire_lapsed(at: datetime | None = None) -> int:
    """`villa daily`: open 报备 past their validity become expired; one log row for the run."""
    at = at or now()
    with write_transaction():
        count = (
            Report.update(status="expired", open_key=None)
            .where(Report.status == "open", Report.valid_until < at)
            .execute()
        )
        if count:
            AuditLog.create(
                action="reports_expired", target="reports", changes=json.dumps({"expired": count})
            )
    return count
