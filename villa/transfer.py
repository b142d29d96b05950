"""What import and export share: the import report, its reasons in words, and safe Excel cells.

The import lives in villa.importer, the export in villa.exporter.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import ImportRun

# A cell whose text starts with one of these may run as a formula once someone edits or re-saves it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Each row's outcome has a stable code (tests and scripts rely on it) and words for people.
REASONS = {
    "missing_name": _l("The name is empty."),
    "bad_name": _l("The name may hold only letters, at most 40: no digits or symbols."),
    "missing_phone": _l("The phone number is empty."),
    "bad_phone": _l("Bad phone number: %(detail)s"),
    "bad_id": _l("Bad ID number: %(detail)s"),
    "bad_gender": _l("Gender must be 男, 女 or empty, not “%(value)s”."),
    "missing_channel": _l("The source channel is empty."),
    "unknown_channel": _l("No source channel is called “%(value)s”."),
    "missing_date": _l("The registration date is empty."),
    "bad_date": _l("“%(value)s” is not a past date; write 2025-03-08, 2025/3/8 or 2025年3月8日."),
    "too_long": _l("%(column)s is longer than %(max)d characters."),
    "duplicate_in_file": _l("Same phone or ID number as row %(row)d of this file."),
    "duplicate_existing": _l("Already on record: customer #%(id)d %(name)s."),
    "unknown_rep": _l("No active sales rep is called “%(value)s”: goes to the public pool."),
    "ambiguous_rep": _l("More than one sales rep is called “%(value)s”: goes to the public pool."),
    "no_rep": _l("No sales rep given: goes to the public pool."),
}
NOTES = {
    "legacy_consent": _l(
        "Legacy data: each customer's general consent is taken as given on their registration date "
        "(privacy notice version “legacy-import”)."
    ),
    "approved": _l(
        "Imported registrations count as approved: the paper register was reviewed when it was kept."
    ),
    "ids_skipped": _l(
        "The ID number column was skipped: the customers' separate consent for ID numbers was not "
        "confirmed to be on file."
    ),
    "ids_imported": _l("ID numbers imported: the administrator confirmed the separate consent is on file."),
}


def status_label(status: str, dry_run: bool) -> str:
    if status == "imported":
        return _("Would import") if dry_run else _("Imported")
    return _("Duplicate") if status == "duplicate" else _("Invalid")


def reason_text(code: str, params: dict) -> str:
    if not code:
        return ""
    params = dict(params)
    if "detail" in params:  # the identity check's message, stored as its English msgid
        params["detail"] = _(params["detail"])
    text = str(REASONS.get(code, code))
    return text % params if params else text


@dataclass
class Outcome:
    """What became (or would become) of one row of the sheet."""

    row: int
    status: str = "imported"  # imported, duplicate, invalid
    code: str = ""  # why it is a duplicate or invalid; or a note on an imported row
    params: dict = field(default_factory=dict)
    name: str = ""  # masked: the report never holds a full name or phone
    phone: str = ""

    def mark(self, status: str, code: str, **params):
        self.status, self.code, self.params = status, code, params

    @property
    def reason(self) -> str:
        return reason_text(self.code, self.params)


@dataclass
class Report:
    """The row-by-row report of one import or dry run; stored encrypted on the ImportRun."""

    filename: str = ""
    sheet: str = ""
    header_row: int = 0
    columns: list = field(default_factory=list)  # [letter, header text, field or None, position]
    notes: list = field(default_factory=list)
    options: dict = field(default_factory=dict)
    blank_rows: int = 0
    outcomes: list = field(default_factory=list)

    def counts(self) -> dict:
        counts = dict.fromkeys(("imported", "duplicate", "invalid"), 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts

    def to_dict(self) -> dict:
        rows = [[o.row, o.status, o.code, o.params, o.name, o.phone] for o in self.outcomes]
        return {**{k: v for k, v in self.__dict__.items() if k != "outcomes"}, "rows": rows}

    @classmethod
    def from_run(cls, run: ImportRun) -> "Report":
        data = json.loads(run.report or "{}")
        rows = data.pop("rows", [])
        report = cls(**data)
        report.outcomes = [Outcome(*row) for row in rows]
        return report

    @property
    def mapped(self) -> list:
        return [column for column in self.columns if column[2]]

    @property
    def unmapped(self) -> list:
        return [column for column in self.columns if not column[2]]


def neutralise(value):
    """Text that Excel could read as a formula gets a leading apostrophe and stays text."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value[:1] in FORMULA_STARTS or value.lstrip()[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def safe_row(sheet, values) -> list:
    """Write-only cells for one row: text is neutralised and typed as text, never as a formula."""
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=neutralise(value))
        if isinstance(value, str):
            cell.data_type = "s"
        elif isinstance(value, date | datetime):
            cell.number_format = "yyyy-mm-dd"
        cells.append(cell)
    return cells


def report_workbook(run: ImportRun, report: Report) -> bytes:
    """The report as .xlsx: row, status, reason, masked name, masked phone; never a full phone."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("导入报告")
    counts = report.counts()
    head = [
        ["文件", report.filename],
        ["工作表", f"{report.sheet}（第 {report.header_row} 行为表头）"],
        ["类型", "试运行（未写入）" if run.dry_run else "已导入"],
        [
            "统计",
            f"导入 {counts['imported']}，重复 {counts['duplicate']}，无效 {counts['invalid']}，"
            f"空行 {report.blank_rows}",
        ],
        *[["说明", str(NOTES[note])] for note in report.notes],
        [],
        ["行号", "状态", "原因", "姓名（脱敏）", "电话（脱敏）"],
    ]
    for values in head:
        sheet.append(safe_row(sheet, values))
    for o in report.outcomes:
        sheet.append(safe_row(sheet, [o.row, status_label(o.status, run.dry_run), o.reason, o.name, o.phone]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
