"""The dashboard's tables, each with the chart drawn from it; the page and the Excel export share them."""

from dataclasses import dataclass, field
from io import BytesIO

from flask import request, send_file
from openpyxl import Workbook

from villa import analytics, scorecard
from villa.i18n import gettext as _
from villa.labels import STAGE_LABELS, VISIT_TYPE_LABELS, office_time
from villa.models import AccessLog, now
from villa.transfer import XLSX_TYPE, safe_row


@dataclass(frozen=True)
class Figure:
    """A rate (percent) or an average (days) that may be unknown: nothing to divide by; or a sum of
    money (yuan)."""

    value: float | None
    kind: str = "percent"  # percent, days, yuan

    def __str__(self):
        if self.value is None:
            return "—"
        if self.kind == "yuan":
            return f"¥{self.value:,.0f}"
        return f"{self.value:.1%}" if self.kind == "percent" else f"{self.value:.1f}"

    @property
    def excel_format(self):
        return {"percent": "0.0%", "days": "0.0", "yuan": "#,##0"}[self.kind]


@dataclass
class Table:
    name: str
    title: str
    headers: list
    rows: list = field(default_factory=list)
    chart: dict | None = None
    note: str = ""
    total_row: bool = False  # the last row sums the others


def _chart(kind, labels, datasets, stacked=False, horizontal=False):
    return {
        "type": kind,
        "labels": [str(label) for label in labels],
        "datasets": [{"label": str(label), "data": data} for label, data in datasets],
        "stacked": stacked,
        "horizontal": horizontal,
    }


def _daily(name, title, days, series, counts):
    """One row per office day (and a total row), one column and one bar colour per series."""
    rows = [[day, *(counts[day, key] for key, _label in series)] for day in days]
    for row in rows:
        row.append(sum(row[1:]))
    totals = [sum(row[i] for row in rows) for i in range(1, len(series) + 2)]
    return Table(
        name,
        title,
        [_("Date"), *(str(label) for _key, label in series), _("Total")],
        [*rows, [_("Total"), *totals]],
        _chart(
            "bar",
            [f"{day:%m-%d}" for day in days],
            [(label, [counts[day, key] for day in days]) for key, label in series],
            stacked=True,
        ),
        total_row=True,
    )


def registrations_by_channel(data):
    series = [(channel.id, channel.name) for channel in data["channels"]]
    title = _("Registrations per day by channel")
    return _daily("registrations_by_channel", title, data["days"], series, data["by_channel"])


def registrations_by_type(data):
    series = [(code, VISIT_TYPE_LABELS[code]) for code in ("visit", "call")]
    title = _("Registrations per day: walk-in or call")
    return _daily("registrations_by_type", title, data["days"], series, data["by_type"])


def funnel(data):
    steps = data["steps"]
    return Table(
        "funnel",
        _("Funnel"),
        [_("Stage"), _("Customers"), _("Of registered"), _("Of the stage before")],
        [
            [str(STAGE_LABELS[s["stage"]]), s["count"], Figure(s["of_registered"]), Figure(s["of_previous"])]
            for s in steps
        ],
        _chart(
            "bar",
            [STAGE_LABELS[s["stage"]] for s in steps],
            [(_("Customers"), [s["count"] for s in steps])],
            horizontal=True,
        ),
        _(
            "Customers registered in the period, at each stage they reached. %(lost)d of them were lost; "
            "each counts at the stages reached before.",
            lost=data["lost"],
        ),
    )


def grades(data):
    rows = [
        [g["grade"], g["count"], Figure(g["share"]), g["moved_in"], g["moved_out"]] for g in data["grades"]
    ]
    return Table(
        "grades",
        _("Intent grade mix"),
        [
            _("Grade"),
            _("Customers now"),
            _("Share"),
            _("Changed to this grade"),
            _("Changed from this grade"),
        ],
        rows,
        _chart(
            "bar",
            [g["grade"] for g in data["grades"]],
            [(_("Customers now"), [g["count"] for g in data["grades"]])],
        ),
        _(
            "Current grade of the customers registered in the period; changes are all grade changes "
            "made in the period."
        ),
    )


def grade_moves(data):
    return Table(
        "grade_moves",
        _("Grade changes in the period"),
        [_("From"), _("To"), _("Changes")],
        [[before or "", after or "", count] for (before, after), count in data["moves"]],
    )


def channels(data):
    rows = [
        [
            r["channel"].name,
            r["registrations"],
            r["visits"],
            Figure(r["visit_rate"]),
            r["signed"],
            Figure(r["conversion"]),
        ]
        for r in data
    ]
    return Table(
        "channels",
        _("Channel effectiveness"),
        [_("Channel"), _("Registrations"), _("Visited"), _("Visit rate"), _("Signed"), _("Conversion")],
        rows,
        _chart(
            "bar",
            [r["channel"].name for r in data],
            [
                (_("Registrations"), [r["registrations"] for r in data]),
                (_("Visited"), [r["visits"] for r in data]),
                (_("Signed"), [r["signed"] for r in data]),
            ],
        ),
    )


def deal_headers() -> list:
    return [
        _("Pledges (认筹)"),
        _("Subscriptions (认购)"),
        _("Subscribed amount (yuan)"),
        _("Signed contracts (签约)"),
        _("Signed amount (yuan)"),
        _("Visit → subscription"),
        _("Visit → signing"),
    ]


def deal_cells(f: dict) -> list:
    return [
        f["pledged"],
        f["subscribed"],
        Figure(f["subscribed_amount"], "yuan"),
        f["signed"],
        Figure(f["signed_amount"], "yuan"),
        Figure(f["visit_to_subscription"]),
        Figure(f["visit_to_signing"]),
    ]


def deals(data):
    """Deals by channel, with a total row."""
    rows = [[f["who"].name, f["visited"], *deal_cells(f)] for f in data]
    visited = sum(f["visited"] for f in data)
    counted = [key for key in (data[0] if data else ()) if key != "who" and not key.startswith("visit_to")]
    total = {key: sum(f[key] for f in data) for key in counted}
    if data:
        total["visit_to_subscription"] = analytics.rate(total["reached_subscribed"], visited)
        total["visit_to_signing"] = analytics.rate(total["reached_signed"], visited)
        rows.append([_("Total"), visited, *deal_cells(total)])
    return Table(
        "deals",
        _("Deals by channel"),
        [_("Channel"), _("Visited"), *deal_headers()],
        rows,
        _chart(
            "bar",
            [f["who"].name for f in data],
            [
                (_("Subscriptions (认购)"), [f["subscribed"] for f in data]),
                (_("Signed contracts (签约)"), [f["signed"] for f in data]),
            ],
        ),
        _(
            "Deals: confirmed 认筹, 认购 and 签约 dated in the period (cancelled ones do not count). "
            "Rates: of the customers registered in the period who visited, the share who reached "
            "认购 or 签约."
        ),
        total_row=bool(data),
    )


def visits(data):
    series = [(True, _("New customers")), (False, _("Return visits"))]
    return _daily("visits", _("New customers and return visits"), data["days"], series, data["counts"])


def pool(data):
    series = [("released", _("Released to the pool")), ("claimed", _("Claimed from the pool"))]
    table = _daily("pool", _("Public pool"), data["days"], series, data["counts"])
    table.chart["stacked"] = False
    table.note = _("%(size)d customers are in the public pool now.", size=data["size"])
    return table


def _mix(period, figures):
    # The funnel, the channel table and the grade mix share one count of the period's customers,
    # the funnel and the channel table the stages reached.
    if "mix" not in figures:
        figures["mix"] = analytics.customer_mix(period)
    return figures["mix"]


def _reach(period, figures):
    if "reach" not in figures:
        figures["reach"] = analytics.stage_reach(period, _mix(period, figures))
    return figures["reach"]


SOURCES = {
    "registrations": lambda period, figures: analytics.registrations(period),
    "funnel": lambda period, figures: analytics.funnel(period, _reach(period, figures)),
    "channels": lambda period, figures: analytics.channel_effectiveness(period, _reach(period, figures)),
    "deals": lambda period, figures: analytics.deals_by_channel(period, _reach(period, figures)),
    "grade_mix": lambda period, figures: analytics.grade_mix(period, _mix(period, figures)),
    "visits": lambda period, figures: analytics.visits(period),
    "public_pool": lambda period, figures: analytics.public_pool(period),
}
# Table name → (the figures it is drawn from, the builder). Names are the export URLs.
TABLES = {
    "registrations_by_channel": ("registrations", registrations_by_channel),
    "registrations_by_type": ("registrations", registrations_by_type),
    "funnel": ("funnel", funnel),
    "channels": ("channels", channels),
    "deals": ("deals", deals),
    "grades": ("grade_mix", grades),
    "grade_moves": ("grade_mix", grade_moves),
    "visits": ("visits", visits),
    "pool": ("public_pool", pool),
}


def dashboard_tables(period, names=tuple(TABLES)) -> dict:
    """{name: Table}, each analytics query run once however many tables it feeds."""
    figures, tables = {}, {}
    for name in names:
        source, build = TABLES[name]
        if source not in figures:
            figures[source] = SOURCES[source](period, figures)
        tables[name] = build(figures[source])
    return tables


def reps_table(results) -> Table:
    """The ranking as a table (page and export)."""
    rows = [
        [
            s.rep.display_name,
            s.registrations,
            Figure(s.completeness),
            Figure(s.first_rejection),
            Figure(s.second_rejection),
            s.due,
            Figure(s.timeliness),
            s.overdue,
            Figure(s.days_to_first, "days"),
            s.customers,
            s.signed,
            Figure(s.conversion),
            s.disputes_won,
            s.disputes_lost,
            *deal_cells(s.deal_figures),
        ]
        for s in results
    ]
    return Table("reps", _("Rep ranking"), [label for _key, label in rep_columns()], rows)


def rep_columns() -> list:
    """(sort key or None, header) of the ranking's columns, in table order."""
    return [
        (None, _("Rep")),
        ("registrations", _("Registrations")),
        ("completeness", _("Completeness")),
        ("first_rejection", _("Rejected at first review")),
        ("second_rejection", _("Rejected at second review")),
        (None, _("Follow-ups due")),
        ("timeliness", _("On time")),
        ("overdue", _("Overdue")),
        ("days_to_first", _("Days to first follow-up")),
        (None, _("Customers")),
        (None, _("Signed")),
        ("conversion", _("Conversion")),
        ("disputes_won", _("Disputes won")),
        ("disputes_lost", _("Disputes lost")),
        *zip(
            (None, None, None, None, None, "visit_to_subscription", "visit_to_signing"),
            deal_headers(),
            strict=True,
        ),
    ]


def rep_scores(period, user, sort):
    return scorecard.ranked(scorecard.scores(period, scorecard.reps_for(user)), sort)


def to_xlsx(table: Table, period, exporter) -> bytes:
    """The table as a workbook: what it is, for which dates, who exported it; then the rows as shown."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.name[:31])
    moment = office_time(now())
    head = [
        [table.title],
        [_("Period"), f"{period.start.isoformat()} – {period.end.isoformat()}"],
        [_("Exported by"), f"{exporter.display_name} ({exporter.username})", f"{moment:%Y-%m-%d %H:%M}"],
        [],
        table.headers,
    ]
    for values in head:
        sheet.append(safe_row(sheet, values))
    for values in table.rows:
        plain = [cell.value if isinstance(cell, Figure) else cell for cell in values]
        cells = safe_row(sheet, plain)
        for cell, value in zip(cells, values, strict=True):
            if isinstance(value, Figure):
                cell.number_format = value.excel_format
        sheet.append(cells)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def logged_export(table: Table, period, exporter, name: str):
    """The table as an .xlsx download, its export written to the access log (analytics:<name>)."""
    content = to_xlsx(table, period, exporter)
    AccessLog.create(
        actor=exporter,
        action="export",
        customer=None,
        fields=f"analytics:{name}",
        ip=request.remote_addr or "",
    )
    return xlsx_response(content, f"{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx")


def xlsx_response(content: bytes, download_name: str):
    """A workbook as a download that no cache keeps."""
    response = send_file(
        BytesIO(content), mimetype=XLSX_TYPE, as_attachment=True, download_name=download_name
    )
    response.headers["Cache-Control"] = "no-store"
    return response
