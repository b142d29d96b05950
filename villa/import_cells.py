"""The cell rules of the legacy import: one row's cells checked and turned into Customer columns.

Rows go through the desk's own normalising (villa.identity) and name rule (villa.fields); a row
that breaks a rule gets a RowProblem whose code the report turns into words (villa.transfer).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from openpyxl.utils.datetime import from_excel

from villa.clock import OFFICE_TZ, now, office_today
from villa.crypto import blind_indexes
from villa.fields import NAME_MAX, NOTES_MAX, name_allowed
from villa.i18n import force_locale
from villa.identity import (
    IdentityError,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
    phone_last4,
)
from villa.models import Channel, User
from villa.ownership import protection_days
from villa.questions import ANSWERS_MAX, MULTIPLE, join_answers
from villa.transfer import Outcome

# Text columns stored as they are, each no longer than the client page's form takes.
LIMITED = {
    "unit_type": ("意向户型", 30),
    "area_band": ("面积", 20),
    "budget": ("预算", 20),
    "notes": ("备注", NOTES_MAX),
    # The questions villa offices ask (villa.questions): kept as written, like the bands above.
    "home_area": ("居住区域", 40),
    "work_area": ("工作区域", 40),
    "occupation": ("职业", 40),
    "family_structure": ("家庭结构", 40),
    "purchase_count": ("置业次数", 40),
    "concerns": ("关注点", ANSWERS_MAX),
    "objections": ("抗性点", ANSWERS_MAX),
}
GENDERS = {"男": "M", "男士": "M", "先生": "M", "m": "M", "女": "F", "女士": "F", "小姐": "F", "f": "F"}
UNKNOWN_GENDER = {"", "未知", "-", "—", "/"}
_AMBIGUOUS = object()
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


class RowProblem(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code, self.params = code, params


@dataclass
class Rules:
    """What a row is checked against: the office's channels and reps, loaded once per import."""

    with_ids: bool = False  # the customers' separate consent for ID numbers is on file
    default_owner: User | None = None  # the rep for rows whose 置业顾问 is blank
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
    def load(cls, with_ids: bool, default_owner: User | None) -> "Rules":
        rules = cls(with_ids, default_owner)
        for channel in Channel.select():
            rules.channels.setdefault(lookup_key(channel.code).lower(), channel)
            rules.channels.setdefault(lookup_key(channel.name), channel)
        for rep in User.reps():
            names = {
                lookup_key(rep.username).lower(),
                lookup_key(rep.display_name),
                lookup_key(rep.display_name.split("·")[-1]),
            }
            for name in names - {""}:
                known = rules.reps.get(name)
                rules.reps[name] = rep if known in (None, rep) else _AMBIGUOUS
        return rules


def check_row(number: int, cells: dict, rules: Rules) -> tuple[Outcome, dict | None]:
    """The row's outcome for the report, and its Customer columns when it may be imported."""
    name, raw_phone = cell_text(cells.get("name")), cell_text(cells.get("phone"))
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


def _entry(name: str, raw_phone: str, cells: dict, rules: Rules) -> dict:
    """The Customer columns for one row, or RowProblem naming the first thing wrong with it.

    `lookup` (and `id_lookup`) hold every blind index the number may have on record right now."""
    name = " ".join(name.split())
    if not name:
        raise RowProblem("missing_name")
    if len(name) > NAME_MAX or not name_allowed(name):
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
        "phone_last4": phone_last4(phone),
        "lookup": lookup,
        "gender": _gender(cells.get("gender")),
        "channel": _channel(cells.get("channel"), rules),
        "registered_at": registered_at,
        **_limited_text(cells),
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
    text = cell_text(value)
    if text.lower() in GENDERS:
        return GENDERS[text.lower()]
    if text in UNKNOWN_GENDER:
        return "U"
    raise RowProblem("bad_gender", value=text[:20])


def _channel(value, rules: Rules) -> Channel:
    text = lookup_key(value)
    if not text:
        raise RowProblem("missing_channel")
    channel = rules.channels.get(text) or rules.channels.get(text.lower())
    if channel is None:
        raise RowProblem("unknown_channel", value=cell_text(value)[:40])
    return channel


def _limited_text(cells: dict) -> dict:
    columns = {}
    for name, (header, longest) in LIMITED.items():
        text = cell_text(cells.get(name))
        if name in MULTIPLE:
            text = join_answers(text)  # 学区，交通 / 学区;交通 as the office stores them: 学区、交通
        if len(text) > longest:
            raise RowProblem("too_long", column=header, max=longest)
        columns[name] = text
    return columns


def _id_number(value, rules: Rules, registered_at: datetime) -> dict:
    text = cell_text(value) if rules.with_ids else ""
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


def _ownership(value, rules: Rules, channel: Channel, registered_at: datetime) -> dict:
    text = lookup_key(value)
    rep = (rules.reps.get(text) or rules.reps.get(text.lower())) if text else rules.default_owner
    if rep is None or rep is _AMBIGUOUS:
        note = ("ambiguous_rep" if rep is _AMBIGUOUS else "unknown_rep", {"value": cell_text(value)[:40]})
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


def _registered_at(value, rules: Rules) -> datetime:
    """The registration moment in UTC (naive, as stored); the sheet's dates are office time."""
    if value is None or cell_text(value) == "":
        raise RowProblem("missing_date")
    moment = _as_datetime(value)
    if moment is None or not date(1990, 1, 1) <= moment.date() <= rules.today:
        raise RowProblem("bad_date", value=cell_text(value)[:20])
    return moment.replace(tzinfo=OFFICE_TZ).astimezone(UTC).replace(tzinfo=None)


def _as_datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, int | float) and 20_000 < value < 80_000:  # an Excel serial day number
        return from_excel(value)
    match = _DATE.fullmatch(cell_text(value))
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups() if part is not None))
    except ValueError:
        return None


def cell_text(value) -> str:
    """A cell as text: numbers without a trailing .0, dates as ISO dates, text stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    return str(value).strip()


def lookup_key(value) -> str:
    """A header or lookup name as people vary it: full-width forms, spaces, a star or colon."""
    return re.sub(r"[\s*:：]", "", unicodedata.normalize("NFKC", cell_text(value)))


def _mask_raw_phone(raw: str) -> str:
    # A phone that failed its check is shown by its digits only, starred like any other.
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))
    return mask_phone(digits) if digits else ""
