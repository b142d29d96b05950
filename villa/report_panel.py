"""The 报备 of one customer as the office's staff read it: on the client page (for who sees the
customer in full) and as evidence beside the registration times on a dispute (撞单).

Brokers never come here: their own list is villa.reports.broker_reports.
"""

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from villa.customers import can_see_full
from villa.models import Agency, Broker, Customer, Report, User
from villa.prepared import Prepared, slot
from villa.reports import STATUS_LABELS, shown_status


@dataclass(frozen=True)
class ReportShown:
    agency: str
    broker: str
    reported_at: datetime
    valid_until: datetime
    confirmed_at: datetime | None
    confirmed_by: str
    status: str  # open, confirmed, expired, dealt

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))


def _build_reports_of():
    desk = User.alias()
    return (
        Report.select(
            Report,
            Agency.name.alias("agency_name"),
            Broker.name.alias("broker_name"),
            desk.display_name.alias("desk_name"),
        )
        .join(Agency, on=(Report.agency == Agency.id))
        .switch(Report)
        .join(Broker, on=(Report.broker == Broker.id))
        .switch(Report)
        .join(desk, JOIN.LEFT_OUTER, on=(Report.confirmed_by == desk.id))
        .where(Report.customer == slot())
        .order_by(Report.reported_at.desc())
    )


# On every client page, and most customers have none: built once (peewee took 0.3 ms to write it).
_reports_of = Prepared(_build_reports_of)


def reports_of(customer: Customer) -> list[ReportShown]:
    """The 报备 confirmed onto this customer, newest first, with their agency, broker and desk."""
    rows = _reports_of.rows(customer.id)
    return [
        ReportShown(
            agency=row.agency_name,
            broker=row.broker_name,
            reported_at=row.reported_at,
            valid_until=row.valid_until,
            confirmed_at=row.confirmed_at,
            confirmed_by=row.desk_name or "",
            status=shown_status(row, customer.stage),
        )
        for row in rows
    ]


def confirmed_reports(customer_ids) -> dict[int, tuple[str, str]]:
    """(agency, broker) of each customer's confirmed 报备 (the newest), by customer id; a customer
    without one is not in it. The review queue's check: the agency and broker are the office's
    partners, not the customer's data, and show for every reviewer."""
    rows = (
        Report.select(Report.customer, Agency.name, Broker.name)
        .join(Agency, on=(Report.agency == Agency.id))
        .switch(Report)
        .join(Broker, on=(Report.broker == Broker.id))
        .where(Report.customer.in_(list(customer_ids)), Report.status == "confirmed")
        .order_by(Report.confirmed_at)
        .tuples()
    )
    return {customer_id: (agency, broker) for customer_id, agency, broker in rows}  # newest last: kept


def report_panel(viewer: User, customer: Customer) -> list[ReportShown]:
    """The client page's 报备 panel: for who sees the customer in full (owner, manager, audit team,
    the desk on the day it registered them); empty for everyone else."""
    return reports_of(customer) if can_see_full(viewer, customer) else []
