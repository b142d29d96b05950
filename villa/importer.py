"""Importing a legacy 客户登记表 (.xlsx): map its columns, check every row, write the good ones fast.

A dry run (the default) writes only an ImportRun holding the row-by-row report. Applying writes the
customers in batches, one transaction each: a half-done import run again finds its rows as duplicates.
Rows go through the desk's own normalising (villa.identity) and the form's name rule.
"""

import hashlib
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from peewee import IntegrityError
from peewee import __exception_wrapper__ as peewee_errors

from villa.crypto import blind_indexes
from villa.db import db, write_transaction
from villa.fields import NAME_MAX, name_allowed
from villa.i18n import force_locale
from villa.i18n import lazy_gettext as _l
from villa.identity import IdentityError, mask_name, mask_phone, normalise_id_number, normalise_phone
from villa.models import OFFICE_TZ, AuditLog, Channel, Customer, ImportRun, User, Visit, now, office_today
from villa.ownership import protection_days
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
}  # fmt: skip
REQUIRED = {"name": "姓名", "phone": "电话", "channel": "来源渠道", "registered_at": "登记日期"}
MAX_LENGTHS = {"name": NAME_MAX, "unit_type": 30, "area_band": 20, "budget": 20}
NEEDS_HEADERS = {"unit_type": "意向户型", "area_band": "面积", "budget": "预算"}
GENDERS = {"男": "M", "男士": "M", "先生": "M", "m": "M", "女": "F", "女士": "F", "小姐": "F", "f": "F"}
UNKNOWN_GENDER = {"", "未知", "-", "—", "/"}
LEGACY_NOTICE = "legacy-import"
VISIT_NOTE = "客户登记表导入"  # office data, like the channel names: stored in Chinese
HEADER_SCAN_ROWS = 10
BATCH = 1000  # rows per INSERT and per transaction; ids per IN (...) lookup
WEB_ROW_LIMIT = 20_000  # what the admin page handles within one request
_AMBIGUOUS = object()
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


class ImportProblem(ValueError):
    """The file as a whole cannot be imported (not .xlsx, no header row, too many rows…)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class RowProblem(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code, self.params = code, params


@dataclass
class ImportOptions:
    with_ids: bool = False  # the customers' separate consent for ID numbers is on file
    default_owner: User | None = None  # the rep for rows whose 置业顾问 is blank
    row_limit: int | None = None


@dataclass
class _Rules:
    """What a row is checked against: the office's channels and reps, loaded once."""

    options: ImportOptions
    channels: dict = field(default_factory=dict)
    reps: dict = field(default_factory=dict)
    today: date = field(default_factory=office_today)
    periods: dict = field(default_factory=dict)

    def protection(self, channel: Channel) -> timedelta:
        """The channel's protection for a visit (villa.ownership.protection_end), read once per import."""
        if channel.id not in self.periods:
            self.periods[channel.id] = timedelta(days=protection_days(channel, "visit"))
        return self.periods[channel.id]

    @classmethod
    def load(cls, options: ImportOptions) -> "_Rules":
        rules = cls(options)
        for channel in Channel.select():
            rules.channels.setdefault(_key(channel.code).lower(), channel)
            rules.channels.setdefault(_key(channel.name), channel)
        for rep in User.reps():
            names = {
                _key(rep.username).lower(),
                _key(rep.display_name),
                _key(rep.display_name.split("·")[-1]),
            }
            for name in names - {""}:
                known = rules.reps.get(name)
                rules.reps[name] = rep if known in (None, rep) else _AMBIGUOUS
        return rules


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
    checked = _read_and_check(content, report, _Rules.load(options), progress)
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


def _read_and_check(content: bytes, report: Report, rules: _Rules, progress) -> list:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportProblem(_l("This is not an Excel .xlsx file.")) from exc
    try:
        for sheet in book.worksheets:
            estimate = sheet.max_row or 0
            sheet.reset_dimensions()  # some writers record wrong dimensions; read every row there is
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            if _map_header(rows, report, sheet.title):
                return _check_rows(rows, report, rules, progress, estimate)
    finally:
        book.close()
    raise ImportProblem(
        _l("No header row found: one of the first rows must name the columns (姓名, 电话 …).")
    )


def _map_header(rows, report: Report, title: str) -> bool:
    for number, values in rows:
        keys = [_key(value) for value in values]
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
    has_ids = any(HEADER_FIELDS.get(_key(c[1])) == "id_number" for c in report.columns)
    report.notes = ["legacy_consent", "approved"]
    if has_ids:
        report.notes.append("ids_imported" if report.options["with_ids"] else "ids_skipped")


def _check_rows(rows, report: Report, rules: _Rules, progress, estimate: int) -> list:
    mapped = [(position, target) for _, _, target, position in report.columns if target]
    limit = rules.options.row_limit
    checked, number = [], 0
    for number, values in rows:
        cells = {target: values[pos] if pos < len(values) else None for pos, target in mapped}
        if all(_text(value) == "" for value in values):
            report.blank_rows += 1
            continue
        if limit is not None and len(checked) >= limit:
            raise ImportProblem(
                _l(
                    "This file has more than %(limit)d rows: import it on the server with `villa import`.",
                    limit=limit,
                )
            )
        outcome, entry = _check_row(number, cells, rules)
        report.outcomes.append(outcome)
        checked.append((outcome, entry))
        if progress and number % 500 == 0:
            progress("checking", number, max(estimate, number))
    if progress:
        progress("checking", number, number)
    return checked


def _check_row(number: int, cells: dict, rules: _Rules) -> tuple[Outcome, dict | None]:
    name, raw_phone = _text(cells.get("name")), _text(cells.get("phone"))
    outcome = Outcome(number, name=mask_name(name))
    try:
        entry = _entry(name, raw_phone, cells, rules)
    except RowProblem as problem:
        outcome.status, outcome.code, outcome.params = "invalid", problem.code, problem.params
        outcome.phone = _mask_raw_phone(raw_phone)
        return outcome, None
    outcome.phone = mask_phone(entry["phone"])
    outcome.code, outcome.params = entry.pop("note", ("", {}))
    return outcome, entry


def _entry(name: str, raw_phone: str, cells: dict, rules: _Rules) -> dict:
    """The Customer columns for one row, or RowProblem naming the first thing wrong with it."""
    name = " ".join(name.split())
    if not name:
        raise RowProblem("missing_name")
    if len(name) > MAX_LENGTHS["name"] or not name_allowed(name):
        raise RowProblem("bad_name")
    if not raw_phone:
        raise RowProblem("missing_phone")
    phone = _identity(normalise_phone, "bad_phone", raw_phone)
    registered_at = _registered_at(cells.get("registered_at"), rules)
    lookup = blind_indexes("phone", phone)  # the current index first; two while the key rotates
    entry = {
        "name": name,
        "phone": phone,
        "phone_index": lookup[0],
        "lookup": lookup,
        "gender": _gender(cells.get("gender")),
        "channel": _channel(cells.get("channel"), rules),
        "registered_at": registered_at,
        "notes": _text(cells.get("notes")),
        **_needs(cells),
        **_id_number(cells.get("id_number"), rules, registered_at),
    }
    entry.update(_ownership(cells.get("owner"), rules, entry["channel"], registered_at))
    return entry


def _identity(normalise, code: str, raw: str, *args) -> str:
    try:
        return normalise(raw, *args)
    except IdentityError as err:
        with force_locale("en"):  # the English msgid is stored; the report page translates it
            raise RowProblem(code, detail=str(err.message)) from None


def _gender(value) -> str:
    text = _text(value)
    if text.lower() in GENDERS:
        return GENDERS[text.lower()]
    if text in UNKNOWN_GENDER:
        return "U"
    raise RowProblem("bad_gender", value=text[:20])


def _channel(value, rules: _Rules) -> Channel:
    text = _key(value)
    if not text:
        raise RowProblem("missing_channel")
    channel = rules.channels.get(text) or rules.channels.get(text.lower())
    if channel is None:
        raise RowProblem("unknown_channel", value=_text(value)[:40])
    return channel


def _needs(cells: dict) -> dict:
    needs = {}
    for name, header in NEEDS_HEADERS.items():
        text = _text(cells.get(name))
        if len(text) > MAX_LENGTHS[name]:
            raise RowProblem("too_long", column=header, max=MAX_LENGTHS[name])
        needs[name] = text
    return needs


def _id_number(value, rules: _Rules, registered_at: datetime) -> dict:
    text = _text(value) if rules.options.with_ids else ""
    if not text:
        return {"id_type": "resident", "id_number": None, "id_index": None, "sensitive_consent_at": None}
    number = _identity(normalise_id_number, "bad_id", text, "resident")
    lookup = blind_indexes("id", number)
    return {
        "id_type": "resident",
        "id_number": number,
        "id_index": lookup[0],
        "id_lookup": lookup,
        "sensitive_consent_at": registered_at,
    }


def _ownership(value, rules: _Rules, channel: Channel, registered_at: datetime) -> dict:
    text = _key(value)
    rep = (rules.reps.get(text) or rules.reps.get(text.lower())) if text else rules.options.default_owner
    if rep is None or rep is _AMBIGUOUS:
        note = ("ambiguous_rep" if rep is _AMBIGUOUS else "unknown_rep", {"value": _text(value)[:40]})
        if not text:
            note = ("no_rep", {})
        return {
            "owner": None,
            "protected_until": None,
            "in_public_pool": True,
            "pool_since": now(),
            "note": note,
        }
    # Protection runs from the import, not from the legacy date: otherwise the next `villa daily`
    # would send every imported customer of the rep straight to the public pool.
    return {
        "owner": rep.id,
        "protected_until": max(registered_at, now()) + rules.protection(channel),
        "in_public_pool": False,
        "pool_since": None,
    }


def _registered_at(value, rules: _Rules) -> datetime:
    """The registration moment in UTC (naive, as stored); the sheet's dates are office time."""
    if value is None or _text(value) == "":
        raise RowProblem("missing_date")
    moment = _as_datetime(value)
    if moment is None or not date(1990, 1, 1) <= moment.date() <= rules.today:
        raise RowProblem("bad_date", value=_text(value)[:20])
    return moment.replace(tzinfo=OFFICE_TZ).astimezone(UTC).replace(tzinfo=None)


def _as_datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, int | float) and 20_000 < value < 80_000:  # an Excel serial day number
        return from_excel(value)
    match = _DATE.fullmatch(_text(value))
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups() if part is not None))
    except ValueError:
        return None


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


def _lookups(entry: dict) -> list[str]:
    return entry["lookup"] + entry.get("id_lookup", [])


def _existing(entries: list[dict]) -> dict:
    """Blind index -> (id, name) of customers on record with any of these phones or ID numbers."""
    found = {}
    phones = [index for entry in entries for index in entry["lookup"]]
    for chunk in _chunks(phones, BATCH):
        query = Customer.select(Customer.id, Customer.name, Customer.phone_index, Customer.alt_phone_index)
        for row in query.where(Customer.phone_index.in_(chunk) | Customer.alt_phone_index.in_(chunk)):
            found[row.phone_index] = (row.id, row.name)
            if row.alt_phone_index:
                found.setdefault(row.alt_phone_index, (row.id, row.name))
    ids = [index for entry in entries for index in entry.get("id_lookup", [])]
    for chunk in _chunks(ids, BATCH):
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
    for done, chunk in enumerate(_chunks(to_write, BATCH)):
        rows = [
            {
                **common,
                **entry,
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
            for (outcome, _), row in zip(chunk, rows, strict=True):
                _insert_one(outcome, row, actor, note)
        if progress:
            progress("importing", min((done + 1) * BATCH, len(to_write)), len(to_write))


def _insert(rows: list[dict], actor: User, note: str):
    _bulk_insert(Customer, rows)
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
    _bulk_insert(Visit, visits)


def _bulk_insert(model, rows: list[dict]):
    """One prepared INSERT run for every row (executemany), each value through its field's db_value.

    Peewee's multi-row insert_many builds the SQL value by value, which is most of the time of a
    100,000-row import; the fields' own conversions (encryption included) still apply here.
    The rows share their keys; fields they leave out take the field's default, or NULL.
    """
    database, given = db.obj, rows[0].keys()
    fields = [
        f
        for f in model._meta.sorted_fields
        if f is not model._meta.primary_key and (f.name in given or f.default is not None)
    ]
    defaults = {
        f.name: f.db_value(f.default() if callable(f.default) else f.default)
        for f in fields
        if f.name not in given
    }
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(  # our own table and column names
        model._meta.table_name,
        ", ".join(f'"{f.column_name}"' for f in fields),
        ", ".join([database.param] * len(fields)),
    )
    params = [
        [defaults[f.name] if f.name in defaults else f.db_value(row[f.name]) for f in fields] for row in rows
    ]
    with peewee_errors:  # the driver's IntegrityError becomes peewee's, as in execute_sql
        database.cursor().executemany(sql, params)


def _insert_one(outcome: Outcome, row: dict, actor: User, note: str):
    try:
        with write_transaction():
            _insert([row], actor, note)
    except IntegrityError:
        found = next(iter(_existing([row]).values()), (0, ""))
        outcome.mark("duplicate", "duplicate_existing", id=found[0], name=mask_name(found[1]))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _text(value) -> str:
    """A cell as text: numbers without a trailing .0, dates as ISO dates, text stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    return str(value).strip()


def _key(value) -> str:
    """A header or lookup name as people vary it: full-width forms, spaces, a star or colon."""
    return re.sub(r"[\s*:：]", "", unicodedata.normalize("NFKC", _text(value)))


def _mask_raw_phone(raw: str) -> str:
    # A phone that failed its check is shown by its digits only, starred like any other.
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))
    return mask_phone(digits) if digits else ""
