"""Exporting customers to .xlsx: the list's filters, masked unless the exporter may see them in full.

Every export writes one access-log row. A complete phone or ID number in the search is a lookup
(villa.lookups), as in the list. Cells are neutralised against formula injection
(villa.transfer.safe_row).
"""

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from openpyxl import Workbook
from peewee import JOIN

from villa import settings
from villa.alerts import note_access
from villa.customers import SHOWN_NAME_COLUMNS, can_reveal, can_see_full, matching
from villa.i18n import force_locale
from villa.identity import format_phone, mask_name, mask_phone
from villa.labels import DEAL_STATUS_LABELS, PAYMENT_LABELS, STAGE_LABELS, office_time
from villa.lookups import begin_lookup, exact_query
from villa.models import AccessLog, Channel, Customer, Deal, User, now
from villa.questions import QUESTIONS
from villa.transfer import safe_row

HEADERS = (
    "客户编号",
    "姓名",
    "电话",
    "性别",
    "来源渠道",
    "意向等级",
    "阶段",
    "归属置业顾问",
    "登记日期",
    "预算",
    "意向户型",
    "下次跟进",
    # The questions villa offices ask (villa.questions): only of customers the exporter sees in full.
    "居住区域",
    "工作区域",
    "职业",
    "家庭结构",
    "置业次数",
    "关注点",
    "抗性点",
)
GENDERS = {"M": "男", "F": "女"}
DEAL_HEADERS = (
    "客户编号",
    "姓名",
    "成交阶段",
    "房号",
    "面积（㎡）",
    "总价（元）",
    "成交日期",
    "付款方式",
    "状态",
    "置业顾问",
    "登记人",
    "经理确认",
    "取消原因",
)
DEAL_CHUNK = 500
MAX_ROWS = 50_000  # the web export's ceiling; the CLI has none


@dataclass
class Export:
    rows: int
    full: bool  # some names and phones are in full
    truncated: bool


def export_customers(
    exporter: User,
    target,
    q: str = "",
    filters: dict | None = None,
    allow_full: bool = True,
    limit: int | None = MAX_ROWS,
    ip: str = "",
) -> Export:
    """Write the customers matching the list's search and filters to `target` (a path or file).

    Raises LookupRefused, writing nothing, when `q` is a complete number beyond the exporter's limits.
    """
    number = exact_query(q)
    lookup = begin_lookup(exporter, number) if number else None
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    deal_sheet = book.create_sheet("成交")
    moment = office_time(now())
    for values in (
        ["导出人", f"{exporter.display_name}（{exporter.username}）"],
        ["导出时间", f"{moment:%Y-%m-%d %H:%M}（北京时间）"],
        ["筛选条件", _describe(q, filters or {})],
        [],
        HEADERS,
    ):
        sheet.append(safe_row(sheet, values))
    with force_locale("zh_Hans"):
        stages = {code: str(label) for code, label in STAGE_LABELS.items()}
    count, any_full, truncated, found = 0, False, False, []
    with_deals = {}  # customer id -> the name as the customers sheet shows it
    masking = settings.masking()
    for customer in _customers(exporter, q, filters or {}, None if limit is None else limit + 1).iterator():
        if limit is not None and count == limit:
            sheet.append(safe_row(sheet, [f"仅导出前 {limit} 行：请缩小筛选范围后再导出。"]))
            truncated = True
            break
        full = allow_full and can_reveal(exporter, customer)
        any_full = any_full or full
        if lookup:
            found.append(customer)
        row = _row(customer, full, stages, masking)
        seen_in_full = can_see_full(exporter, customer)
        answers = [getattr(customer, name) for name in QUESTIONS] if seen_in_full else []
        sheet.append(safe_row(sheet, row + answers))
        if seen_in_full:
            with_deals[customer.id] = row[1]
        count += 1
    _write_deals(deal_sheet, with_deals, stages)
    book.save(target)
    AccessLog.create(
        actor=exporter, action="export", customer=None, fields="phone,name" if any_full else "masked", ip=ip
    )
    note_access(exporter, "export")
    if lookup:
        lookup.record(found, partial(can_see_full, exporter), ip)
    return Export(rows=count, full=any_full, truncated=truncated)


def _customers(exporter: User, q: str, filters: dict, limit: int | None):
    # The same search and filters as the customer list (villa.customers.search_customers), unpaged.
    query = (
        Customer.select(
            *SHOWN_NAME_COLUMNS,
            Customer.phone,
            Customer.gender,
            Customer.grade,
            Customer.stage,
            Customer.budget,
            Customer.unit_type,
            Customer.next_followup_on,
            *(getattr(Customer, name) for name in QUESTIONS),
            Channel.name,
            User.id,
            User.display_name,
            User.manager,
        )
        .join(Channel, on=(Customer.channel == Channel.id))
        .switch(Customer)
        .join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id))
    )
    query = matching(query, exporter, q, filters).order_by(Customer.id.desc())
    return query.limit(limit) if limit is not None else query


def _row(customer: Customer, full: bool, stages: dict, masking: dict) -> list:
    phone = customer.phone or ""
    owner = customer.owner if customer.owner_id else None
    return [
        customer.id,
        customer.name if full else mask_name(customer.name),
        (format_phone(phone) if full else mask_phone(phone, masking["phone"])) if phone else "",
        GENDERS.get(customer.gender, ""),
        customer.channel.name,
        customer.grade,
        stages.get(customer.stage, customer.stage),
        owner.display_name if owner else "公客池",
        office_time(customer.registered_at).date() if isinstance(customer.registered_at, datetime) else None,
        customer.budget,
        customer.unit_type,
        customer.next_followup_on,
    ]


def _describe(q: str, filters: dict) -> str:
    # The search text is left out: it may be a phone or ID number.
    parts = [f"{name}={value}" for name, value in sorted(filters.items()) if value]
    if (q or "").strip():
        parts.append("含搜索词")
    return "，".join(parts) or "全部客户"


def _write_deals(sheet, names: dict, stages: dict):
    """The 成交 sheet: every deal (cancelled ones too) of the exported customers the exporter sees
    in full, as the client page shows them to them."""
    sheet.append(safe_row(sheet, DEAL_HEADERS))
    with force_locale("zh_Hans"):
        payments = {code: str(label) for code, label in PAYMENT_LABELS.items()}
        statuses = {code: str(label) for code, label in DEAL_STATUS_LABELS.items()}
    ids = list(names)
    staff = dict(User.select(User.id, User.display_name).tuples())  # a few dozen people
    for start in range(0, len(ids), DEAL_CHUNK):
        deals = (
            Deal.select()
            .where(Deal.customer.in_(ids[start : start + DEAL_CHUNK]))
            .order_by(Deal.customer.desc(), Deal.id)
        )
        for deal in deals:
            values = [
                deal.customer_id,
                names[deal.customer_id],
                stages.get(deal.stage, deal.stage),
                deal.unit_number,
                float(deal.area),
                deal.price,
                deal.deal_date,
                payments.get(deal.payment, deal.payment),
                statuses.get(deal.status, deal.status),
                staff.get(deal.rep_id, ""),
                staff.get(deal.recorded_by_id, ""),
                staff.get(deal.confirmed_by_id, ""),
                deal.cancel_reason,
            ]
            sheet.append(safe_row(sheet, values))
