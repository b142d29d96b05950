"""Importing a legacy 客户登记表 (.xlsx): map its columns, check every row, write the good ones fast.

A dry run (the default) writes only an ImportRun holding the row-by-row report. Applying writes the
customers in batches, one transaction each: a half-done import run again finds its rows as duplicates.
The file is opened within its ImportLimits by villa.import_file; each row is checked by the cell
rules of villa.import_cells.
"""

import hashlib
import json
from dataclasses import dataclass

from openpyxl.utils import get_column_letter
from peewee import IntegrityError, chunked

from villa.db import insert_rows, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.identity import mask_name
from villa.import_cells import Rules, cell_text, check_row, lookup_key
from villa.import_file import (
    SERVER_LIMITS,
    ImportLimits,
    ImportProblem,
    open_workbook,
    sheet_rows,
    too_many_rows,
)
from villa.models import AuditLog, Customer, ImportRun, User, Visit, now
from villa.transfer import Outcome, Report

# Legacy headers (after dropping spaces, * and colons) and the Customer field each fills.
HEADER_FIELDS = {
    "姓名": "name", "客户姓名": "name",
    "电话": "phone", "手机": "phone", "手机号": "phone", "手机号码": "phone", "联系电话": "phone",
    "性别": "gender",
    "来源渠道": "channel", "渠道": "channel",
    "意向户型": "unit_type", "预算": "budget", "面积": "area_band",
    "置业顾问": "owner",
    "登记日期": "registered_at",
    "备注": "notes",
    "证件号码": "id_number", "身份证号": "id_number", "身份证号码": "id_number",
    "居住区域": "home_area", "工作区域": "work_area", "职业": "occupation", "家庭结构": "family_structure",
    "置业次数": "purchase_count", "关注点": "concerns", "抗性点": "objections",
}  # fmt: skip
REQUIRED = {"name": "姓名", "phone": "电话", "channel": "来源渠道", "registered_at": "登记日期"}
LEGACY_NOTICE = "legacy-import"
VISIT_NOTE = "客户登记表导入"  # office data, like the channel names: stored in Chinese
HEADER_SCAN_ROWS = 10
BATCH = 1000  # rows per transaction; ids per IN (...) lookup


@dataclass
class ImportOptions:
    with_ids: bool = False  # the customers' separate consent for ID numbers is on file
    default_owner: User | None = None  # the rep for rows whose 置业顾问 is blank
    limits: ImportLimits = SERVER_LIMITS


def file_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def run_import(
    content: bytes,
    filename: str,
    actor: User | None,
    options: ImportOptions,
    apply: bool = False,
    progress=None,
) -> tuple[ImportRun, Report]:
    """Check every row of the file; with `apply`, import the rows that passed. Returns the run."""
    if apply and actor is None:
        raise ValueError("an import that writes needs the staff member responsible")
    report = Report(filename=filename[:200], options={"with_ids": options.with_ids})
    if options.default_owner is not None:
        report.options["default_owner"] = options.default_owner.username
    rules = Rules.load(options.with_ids, options.default_owner)
    checked = _read_and_check(content, report, rules, options.limits, progress)
    to_write = _sort_duplicates(checked)
    run = ImportRun.create(
        filename=report.filename, file_sha256=file_digest(content), dry_run=not apply, started_by=actor
    )
    if apply:
        _write(to_write, actor, run, progress)
        AuditLog.create(
            actor=actor,
            action="legacy_import",
            target=f"import:{run.id}",
            changes=json.dumps(report.counts()),
        )
    counts = report.counts()
    run.total_rows, run.imported = sum(counts.values()), counts["imported"]
    run.duplicates, run.invalid = counts["duplicate"], counts["invalid"]
    run.report, run.finished_at = json.dumps(report.to_dict(), ensure_ascii=False), now()
    run.save()
    return run, report


def _read_and_check(content: bytes, report: Report, rules: Rules, limits: ImportLimits, progress) -> list:
    with open_workbook(content, limits) as book:
        for sheet in book.worksheets:
            estimate = sheet.max_row or 0
            sheet.reset_dimensions()  # some writers record wrong dimensions; read every row there is
            rows = sheet_rows(sheet)
            if _map_header(rows, report, sheet.title):
                return _check_rows(rows, report, rules, limits, progress, estimate)
    raise ImportProblem(
        _l("No header row found: one of the first rows must name the columns (姓名, 电话 …).")
    )


def _map_header(rows, report: Report, title: str) -> bool:
    for number, values in rows:
        keys = [lookup_key(value) for value in values]
        if sum(key in HEADER_FIELDS for key in keys) >= 2:
            _record_columns(values, keys, report)
            report.sheet, report.header_row = title, number
            return True
        if number >= HEADER_SCAN_ROWS:
            return False
    return False


def _record_columns(values, keys, report: Report):
    taken = set()
    for position, (value, key) in enumerate(zip(values, keys, strict=True)):
        if value is None or not str(value).strip():
            continue
        target = HEADER_FIELDS.get(key)
        if target in taken or (target == "id_number" and not report.options["with_ids"]):
            target = None  # a second column for the same field, or ID numbers without consent
        taken.add(target)
        report.columns.append([get_column_letter(position + 1), str(value).strip(), target, position])
    for name, header in REQUIRED.items():
        if name not in taken:
            raise ImportProblem(_l("The sheet has no %(column)s column.", column=header))
    has_ids = any(HEADER_FIELDS.get(lookup_key(c[1])) == "id_number" for c in report.columns)
    report.notes = ["legacy_consent", "approved"]
    if has_ids:
        report.notes.append("ids_imported" if report.options["with_ids"] else "ids_skipped")


def _check_rows(rows, report: Report, rules: Rules, limits: ImportLimits, progress, estimate: int) -> list:
    mapped = [(position, target) for _, _, target, position in report.columns if target]
    checked, number = [], 0
    for number, values in rows:
        cells = {target: values[pos] if pos < len(values) else None for pos, target in mapped}
        if all(cell_text(value) == "" for value in values):
            report.blank_rows += 1
            continue
        if len(checked) >= limits.rows:
            raise ImportProblem(too_many_rows(limits))
        outcome, entry = check_row(number, cells, rules)
        report.outcomes.append(outcome)
        checked.append((outcome, entry))
        if progress and number % 500 == 0:
            progress("checking", number, max(estimate, number))
    if progress:
        progress("checking", number, number)
    return checked


def _sort_duplicates(checked: list) -> list:
    """Mark rows already on record or earlier in the file; return the rows left to import, in order."""
    existing = _existing([entry for _, entry in checked if entry])
    seen, to_write = {}, []
    for outcome, entry in checked:
        if entry is None:
            continue
        keys = [entry["phone_index"]] + ([entry["id_index"]] if entry["id_index"] else [])
        found = next((existing[k] for k in _lookups(entry) if k in existing), None)
        earlier = next((seen[k] for k in keys if k in seen), None)
        if found is not None:
            outcome.mark("duplicate", "duplicate_existing", id=found[0], name=mask_name(found[1]))
        elif earlier is not None:
            outcome.mark("duplicate", "duplicate_in_file", row=earlier)
        else:
            seen.update(dict.fromkeys(keys, outcome.row))
            to_write.append((outcome, entry))
    return to_write


LOOKUPS = ("lookup", "id_lookup")  # every index a row's numbers may have on record: not columns


def _lookups(entry: dict) -> list[str]:
    return entry["lookup"] + entry.get("id_lookup", [])


def _existing(entries: list[dict]) -> dict:
    """Blind index -> (id, name) of customers on record with any of these phones or ID numbers."""
    found = {}
    phones = [index for entry in entries for index in entry["lookup"]]
    for chunk in chunked(phones, BATCH):
        query = Customer.select(Customer.id, Customer.name, Customer.phone_index, Customer.alt_phone_index)
        for row in query.where(Customer.phone_index.in_(chunk) | Customer.alt_phone_index.in_(chunk)):
            found[row.phone_index] = (row.id, row.name)
            if row.alt_phone_index:
                found.setdefault(row.alt_phone_index, (row.id, row.name))
    ids = [index for entry in entries for index in entry.get("id_lookup", [])]
    for chunk in chunked(ids, BATCH):
        for row in Customer.select(Customer.id, Customer.name, Customer.id_index).where(
            Customer.id_index.in_(chunk)
        ):
            found[row.id_index] = (row.id, row.name)
    return found


def _write(to_write: list, actor: User, run: ImportRun, progress):
    moment = now()
    common = {
        "visit_type": "visit",
        "registered_by": actor.id,
        "review_status": "approved",
        "notice_version": LEGACY_NOTICE,
        "stage": "visited",
        "updated_at": moment,
    }
    note = f"{VISIT_NOTE} #{run.id}"
    for done, chunk in enumerate(chunked(to_write, BATCH)):
        rows = [
            {
                **common,
                **{name: value for name, value in entry.items() if name not in LOOKUPS},
                "consent_at": entry["registered_at"],
                "last_activity_at": entry["registered_at"],
            }
            for _, entry in chunk
        ]
        try:
            with write_transaction():
                _insert(rows, actor, note)
        except IntegrityError:
            # Someone registered one of these at the desk meanwhile: find which, row by row.
            for (outcome, entry), row in zip(chunk, rows, strict=True):
                _insert_one(outcome, entry, row, actor, note)
        if progress:
            progress("importing", min((done + 1) * BATCH, len(to_write)), len(to_write))


def _insert(rows: list[dict], actor: User, note: str):
    insert_rows(Customer, rows)
    by_index = dict(
        Customer.select(Customer.phone_index, Customer.id)
        .where(Customer.phone_index.in_([row["phone_index"] for row in rows]))
        .tuples()
    )
    visits = [
        {
            "customer": by_index[row["phone_index"]],
            "kind": "visit",
            "at": row["registered_at"],
            "received_by": actor.id,
            "rep": row["owner"],
            "is_first": True,
            "note": note,
            "acknowledged_at": row["registered_at"],
        }
        for row in rows
    ]
    insert_rows(Visit, visits)


def _insert_one(outcome: Outcome, entry: dict, row: dict, actor: User, note: str):
    try:
        with write_transaction():
            _insert([row], actor, note)
    except IntegrityError:
        found = next(iter(_existing([entry]).values()), (0, ""))
        outcome.mark("duplicate", "duplicate_existing", id=found[0], name=mask_name(found[1]))
