"""The report by agency and broker, and the 佣金确认 list, each with its Excel export (logged)."""

from flask import abort, render_template, request
from flask_login import current_user

from villa import commission
from villa.agency_report import Figures, agency_report
from villa.alerts import note_access
from villa.analytics import period_from_args
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.models import Agency
from villa.web.agencies import bp
from villa.web.analytics.routes import PRESET_LABELS
from villa.web.analytics.tables import Figure, Table, logged_export, xlsx_response

READERS = ("manager", "auditor", "admin")
REPORT_TABLES = ("agencies", "brokers")


@bp.get("/report")
@role_required(*READERS)
def report():
    period, agency = period_from_args(request.args), _agency_filter()
    figures = agency_report(period, agency.id if agency else None)
    return render_template(
        "agencies/report.html",
        period=period,
        agency=agency,
        agencies=Agency.select().order_by(Agency.active.desc(), Agency.name),
        tables=_report_tables(figures),
        presets=PRESET_LABELS,
        keep={"agency": agency.id} if agency else {},
    )


@bp.get("/report/<any(agencies, brokers):name>.xlsx")
@role_required(*READERS)
def report_export(name):
    period, agency = period_from_args(request.args), _agency_filter()
    table = _report_tables(agency_report(period, agency.id if agency else None))[name]
    exporter = current_user._get_current_object()
    response = logged_export(table, period, exporter, name)
    note_access(exporter, "export")
    return response


@bp.get("/commission", endpoint="commission")
@role_required(*READERS)
def commission_list():
    period, agency = period_from_args(request.args), _agency_filter()
    rows = commission.commission_rows(current_user, period, agency.id if agency else None)
    return render_template(
        "agencies/commission.html",
        period=period,
        agency=agency,
        agencies=Agency.select().order_by(Agency.active.desc(), Agency.name),
        rows=rows,
        total=sum(row.price for row in rows),
        limited=len(rows) >= commission.MAX_ROWS,
        presets=PRESET_LABELS,
        keep={"agency": agency.id} if agency else {},
    )


@bp.get("/commission.xlsx")
@role_required(*READERS)
def commission_export():
    period, agency = period_from_args(request.args), _agency_filter()
    viewer = current_user._get_current_object()
    rows = commission.commission_rows(viewer, period, agency.id if agency else None)
    content = commission.commission_workbook(viewer, rows, period, agency)
    commission.log_export(viewer, rows, request.remote_addr or "")
    return xlsx_response(content, f"commission-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx")


def _report_tables(figures) -> dict:
    headers = [
        _("Reports (报备)"),
        _("Visited (到访)"),
        _("Visit rate"),
        _("Subscribed (认购)"),
        _("Subscribed amount (yuan)"),
        _("Signed (签约)"),
        _("Signed amount (yuan)"),
        _("Visit → subscription"),
        _("Visit → signing"),
    ]
    agencies = [[_named(f), *_cells(f)] for f in figures.agencies]
    brokers = [[_named(f), f.agency, *_cells(f)] for f in figures.brokers]
    total = [_("Total"), *_cells(figures.total)]
    return {
        "agencies": Table(
            "agencies", _("By agency"), [_("Agency"), *headers], [*agencies, total], total_row=True
        ),
        "brokers": Table("brokers", _("By broker"), [_("Broker"), _("Agency"), *headers], brokers),
    }


def _named(figures: Figures) -> str:
    return figures.name if figures.active else _("%(name)s (deactivated)", name=figures.name)


def _cells(f: Figures) -> list:
    return [
        f.reports,
        f.visited,
        Figure(f.visit_rate),
        f.subscribed,
        Figure(f.subscribed_amount, "yuan"),
        f.signed,
        Figure(f.signed_amount, "yuan"),
        Figure(f.to_subscription),
        Figure(f.to_signing),
    ]


def _agency_filter() -> Agency | None:
    value = request.args.get("agency", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        abort(404)
    return Agency.get_or_none(Agency.id == int(value)) or abort(404)
