"""佣金确认: the signed deals with the confirmed 报备 behind them, the basis for paying an agency.

A row is a confirmed 签约 (Deal: stage signed, status confirmed) dated in the period, of a customer
whose 报备 the desk confirmed (Report.confirmed_at set); filterable by the agency of the 报备. The
customer's name shows in full only to who sees that customer in full (villa.customers.visible_in_full,
the office's one visibility rule); everyone else reads it masked. The Excel export writes what the
page shows, its cells neutralised against formula injection, and one access-log row.
"""

from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook

from villa.alerts import note_access
from villa.analytics import Period
from villa.customers import visible_in_full
from villa.identity import mask_name
from villa.labels import office_time
from villa.models import AccessLog, Agency, Broker, Customer, Deal, Report, User, now
from villa.transfer import safe_row

HEADERS = (
    "中介公司",
    "经纪人",
    "客户编号",
    "客户",
    "报备时间",
    "确客时间",
    "签约日期",
    "房号",
    "总价（元）",
)
MAX_ROWS = 5000


@dataclass(frozen=True)
class CommissionRow:
    deal_id: int
    agency: str
    broker: str
    customer_id: int
    customer: str  # in full or masked, as this viewer may see the customer
    full: bool
    reported_at: datetime
    confirmed_at: datetime
    confirmed_by: str
    deal_date: date
    unit_number: str
    price: int


def commission_rows(viewer: User, period: Period, agency_id: int | None = None) -> list[CommissionRow]:
    """The confirmed 签约 dated in the period with their confirmed 报备, newest first."""
    desk = User.alias()
    query = (
        Deal.select(
            Deal.id,
            Deal.customer,
            Deal.deal_date,
            Deal.unit_number,
            Deal.price,
            Report.reported_at,
            Report.confirmed_at.alias("confirmed_at"),
            Agency.name.alias("agency"),
            Broker.name.alias("broker"),
            Customer.name.alias("customer_name"),
            desk.display_name.alias("confirmed_by"),
        )
        .join(Report, on=(Report.customer == Deal.customer))
        .join(Agency, on=(Report.agency == Agency.id))
        .switch(Report)
        .join(Broker, on=(Report.broker == Broker.id))
        .switch(Deal)
        .join(Customer, on=(Deal.customer == Customer.id))
        .switch(Report)
        .join(desk, on=(Report.confirmed_by == desk.id))
        .where(
            Deal.stage == "signed",
            Deal.status == "confirmed",
            Deal.deal_date.between(period.start, period.end),
            Report.confirmed_at.is_null(False),
        )
        .order_by(Deal.deal_date.desc(), Deal.id.desc())
        .limit(MAX_ROWS)
    )
    if agency_id is not None:
        query = query.where(Report.agency == agency_id)
    deals = list(query.dicts())
    ids = list({deal["customer"] for deal in deals})
    seen = Customer.select(Customer.id).where(visible_in_full(viewer), Customer.id.in_(ids))
    in_full = {customer_id for (customer_id,) in seen.tuples()}
    return [_row(deal, deal["customer"] in in_full) for deal in deals]


def _row(deal: dict, full: bool) -> CommissionRow:
    name = deal.pop("customer_name")
    return CommissionRow(
        deal_id=deal.pop("id"),
        customer_id=deal["customer"],
        customer=name if full else mask_name(name),
        full=full,
        **{key: value for key, value in deal.items() if key != "customer"},
    )


def commission_workbook(
    viewer: User, rows: list[CommissionRow], period: Period, agency: Agency | None
) -> bytes:
    """The list as .xlsx, as the page shows it to this viewer: what, for which dates, who exported it."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("佣金确认")
    moment = office_time(now())
    for values in (
        ["佣金确认：已签约且报备已确客的成交"],
        ["签约日期", f"{period.start.isoformat()} 至 {period.end.isoformat()}"],
        ["中介公司", agency.name if agency else "全部"],
        ["导出人", f"{viewer.display_name}（{viewer.username}）", f"{moment:%Y-%m-%d %H:%M}（北京时间）"],
        [],
        HEADERS,
    ):
        sheet.append(safe_row(sheet, values))
    for row in rows:
        values = [
            row.agency,
            row.broker,
            row.customer_id,
            row.customer,
            f"{office_time(row.reported_at):%Y-%m-%d %H:%M}",
            f"{office_time(row.confirmed_at):%Y-%m-%d %H:%M}",
            row.deal_date,
            row.unit_number,
            row.price,
        ]
        sheet.append(safe_row(sheet, values))
    sheet.append(safe_row(sheet, ["合计", "", "", "", "", "", "", len(rows), sum(row.price for row in rows)]))
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def log_export(viewer: User, rows: list[CommissionRow], ip: str):
    """One access-log row per export, like every export; names in full or not, as written."""
    full = any(row.full for row in rows)
    AccessLog.create(
        actor=viewer,
        action="export",
        customer=None,
        fields=f"commission:{'full' if full else 'masked'}",
        ip=ip,
    )
    note_access(viewer, "export")
