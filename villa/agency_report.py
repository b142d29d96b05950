"""The report by agency and by broker (渠道报表): what the 报备 of a period became.

The rule, one cohort per row: the 报备 made in the period (reported_at, office dates, both ends
included), by the agency and the broker that made them.
- 报备: how many were made (open, confirmed and expired alike);
- 到访: how many of them the desk confirmed (确客: confirmed_at is set);
- 认购 / 签约: how many of those confirmed customers have a confirmed 认购 or 签约 deal (Deal rows,
  status confirmed, any date: pending and cancelled deals do not count). A customer counts once per
  stage however many deals they have; 认购 counts who reached it, so a 签约 counts there too;
- amounts: the sum of the prices (元) of those customers' confirmed 认购 deals, and of their confirmed
  签约 deals;
- rates: 到访 of 报备, 认购 and 签约 of 到访.
The agency of a row is the one the 报备 was made through (Report.agency), even if the broker moved since.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from villa.analytics import Period, rate
from villa.models import Agency, Broker, Deal, Report

DEAL_STAGES = ("subscribed", "signed")


@dataclass
class Figures:
    """One row of the report: an agency, a broker, or the total."""

    name: str
    agency: str = ""
    reports: int = 0
    visited: int = 0
    subscribed: int = 0  # confirmed customers with a confirmed 认购 or 签约
    signed: int = 0  # confirmed customers with a confirmed 签约
    subscribed_amount: int = 0  # 元, their confirmed 认购 deals
    signed_amount: int = 0  # 元, their confirmed 签约 deals
    active: bool = True
    customers: set = field(default_factory=set, repr=False)

    @property
    def visit_rate(self) -> float | None:
        return rate(self.visited, self.reports)

    @property
    def to_subscription(self) -> float | None:
        return rate(self.subscribed, self.visited)

    @property
    def to_signing(self) -> float | None:
        return rate(self.signed, self.visited)


@dataclass
class AgencyReport:
    period: Period
    agencies: list[Figures]
    brokers: list[Figures]
    total: Figures


def agency_report(period: Period, agency_id: int | None = None) -> AgencyReport:
    """The figures of the 报备 made in the period, by agency and by broker (of one agency, or all)."""
    reports = Report.select(Report.agency, Report.broker, Report.confirmed_at, Report.customer).where(
        period.covers(Report.reported_at)
    )
    if agency_id is not None:
        reports = reports.where(Report.agency == agency_id)
    rows = list(reports.tuples())
    deals = _deals_of_confirmed(reports)
    by_agency, by_broker, total = {}, {}, Figures("")
    for agency, broker, confirmed_at, customer in rows:
        for figures in (
            by_agency.setdefault(agency, Figures("")),
            by_broker.setdefault(broker, Figures("")),
            total,
        ):
            figures.reports += 1
            if confirmed_at is not None and customer is not None:
                figures.visited += 1
                figures.customers.add(customer)
    for figures in (*by_agency.values(), *by_broker.values(), total):
        _add_deals(figures, deals)
    return AgencyReport(period, _named_agencies(by_agency), _named_brokers(by_broker), total)


def _deals_of_confirmed(reports) -> dict:
    """{customer id: {stage: [price, ...]}} of the confirmed 认购 and 签约 of the confirmed customers."""
    confirmed = reports.select(Report.customer).where(Report.confirmed_at.is_null(False))
    query = Deal.select(Deal.customer, Deal.stage, Deal.price).where(
        Deal.status == "confirmed", Deal.stage.in_(DEAL_STAGES), Deal.customer.in_(confirmed)
    )
    deals = defaultdict(lambda: defaultdict(list))
    for customer, stage, price in query.tuples():
        deals[customer][stage].append(price)
    return deals


def _add_deals(figures: Figures, deals: dict):
    for customer in figures.customers:
        stages = deals.get(customer, {})
        if stages:
            figures.subscribed += 1  # a 签约 reached 认购 too
        if stages.get("signed"):
            figures.signed += 1
        figures.subscribed_amount += sum(stages.get("subscribed", ()))
        figures.signed_amount += sum(stages.get("signed", ()))


def _named_agencies(by_agency: dict) -> list[Figures]:
    agencies = Agency.select(Agency.id, Agency.name, Agency.active).where(Agency.id.in_(list(by_agency)))
    for agency in agencies:
        figures = by_agency[agency.id]
        figures.name, figures.active = agency.name, agency.active
    return sorted(by_agency.values(), key=lambda f: (-f.reports, f.name))


def _named_brokers(by_broker: dict) -> list[Figures]:
    brokers = (
        Broker.select(Broker.id, Broker.name, Broker.active, Agency.name)
        .join(Agency)
        .where(Broker.id.in_(list(by_broker)))
    )
    for broker in brokers:
        figures = by_broker[broker.id]
        figures.name, figures.agency, figures.active = broker.name, broker.agency.name, broker.active
    return sorted(by_broker.values(), key=lambda f: (f.agency, -f.reports, f.name))
