"""Exact phone and ID lookups are reveals.

A complete phone or ID number typed into the list search, the desk's duplicate check or the export
filter tells the caller whether that number is a customer, and whose. So each user may look up only
so many different complete numbers a minute and a day (office settings); beyond that the answer is
refused and the audit team alerted. A lookup that finds a customer the caller may not see in full
writes an access-log row. Typing is never counted: an incomplete or invalid number is no lookup;
nor is a lookup that finds only customers the caller sees in full, nor the same number again the
same day (they tell the caller nothing new).

The counters are RateEvent rows, shared by every worker and host.
"""

from dataclasses import dataclass
from datetime import timedelta

from peewee import SQL, Case, fn

from villa import alerts, settings
from villa.crypto import blind_index, blind_indexes
from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.identity import try_normalise_id_number, try_normalise_phone
from villa.models import AccessLog, RateEvent, User, now, office_day_start
from villa.prepared import Prepared, slot

MINUTE = timedelta(minutes=1)
KEPT = timedelta(days=2)  # counters older than this are of no limit's window: `villa daily` prunes them


@dataclass(frozen=True)
class ExactNumber:
    """A complete, valid phone or ID number in its normal form."""

    field: str  # "phone" or "id_number"
    value: str

    @property
    def kind(self) -> str:
        return "phone" if self.field == "phone" else "id"

    def indexes(self) -> list[str]:
        """Its blind indexes: the current one, and the previous one while the key is rotated."""
        return blind_indexes(self.kind, self.value)


def exact_number(phone: str | None = None, id_number: str | None = None, id_type: str = "resident"):
    """The complete number among these, or None while the caller is still typing."""
    if phone and (normal := try_normalise_phone(phone)):
        return ExactNumber("phone", normal)
    if id_number and (normal := try_normalise_id_number(id_number, id_type)):
        return ExactNumber("id_number", normal)
    return None


def exact_query(q: str) -> ExactNumber | None:
    """The list's search text as an exact number, or None for a name (or part of a number)."""
    q = (q or "").strip()
    return exact_number(phone=q) or exact_number(id_number=q)


class LookupRefused(Exception):
    """This user has looked up as many complete numbers as the office allows for now."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class Lookup:
    """One exact lookup by one user, between the limits' check and what it found."""

    user: User
    number: ExactNumber
    repeat: bool  # the user looked this number up already today: it tells nothing new

    def record(self, found: list, sees_in_full, ip: str = ""):
        """Count the lookup, unless all it found are customers the user sees in full (those tell the
        user nothing new), and log each customer found that the user may not see in full
        (`sees_in_full(customer)` says which). A number looked up again the same day is neither
        counted nor logged again."""
        if self.repeat:
            return
        not_in_full = [customer for customer in found if not sees_in_full(customer)]
        if found and not not_in_full:
            return
        moment, user = now(), self.user
        counted = [_counter(user), _seen_key(user, self.number)]
        entry = {"actor": user.id, "action": "lookup", "fields": self.number.field, "ip": ip, "at": moment}
        with write_transaction():
            RateEvent.insert_many([{"key": key, "at": moment} for key in counted]).execute()
            if not_in_full:
                AccessLog.insert_many([{**entry, "customer": c.id} for c in not_in_full]).execute()
        if not_in_full:
            alerts.note_access(user, "lookup")


def begin_lookup(user: User, number: ExactNumber) -> Lookup:
    """Before the lookup: raise LookupRefused (and alert the audit team) when the user is at a limit.

    A number the user already looked up today is always answered: the desk's form asks again when the
    field loses focus, and a repeat tells nothing new.
    """
    counter, day_start, minute_ago = _counter(user), office_day_start(), now() - MINUTE
    stamp = RateEvent.at.db_value
    if _seen.scalar(_seen_key(user, number), stamp(day_start)):
        return Lookup(user, number, repeat=True)
    # The window that starts first: a minute ago, just after the office's midnight, is yesterday.
    today, last_minute = _counts.row(
        stamp(day_start), stamp(minute_ago), counter, stamp(min(day_start, minute_ago))
    )
    per_minute, per_day = settings.read("lookup_limit_per_minute"), settings.read("lookup_limit_per_day")
    if today >= per_day:
        _refuse(user, "day", per_day)
    if last_minute >= per_minute:
        _refuse(user, "minute", per_minute)
    return Lookup(user, number, repeat=False)


# Did the user look this number up today (its key, the day's start)? Asked for every complete
# number typed at the desk, answered from the index on (key, at).
_seen = Prepared(
    lambda: RateEvent.select(SQL("1")).where(RateEvent.key == slot(), RateEvent.at >= slot()).limit(SQL("1"))
)


def _build_counts():
    """The user's numbers today and in the last minute, in one statement over the user's counter
    rows (index on key and time). Arguments: the day's start, a minute ago, the counter's key, the
    earlier of the two moments."""
    at = RateEvent.at

    def count(condition, name):  # COUNT(CASE WHEN condition THEN 1 END)
        return fn.COUNT(Case(None, [(condition, SQL("1"))])).alias(name)

    return RateEvent.select(count(at >= slot(), "today"), count(at > slot(), "last_minute")).where(
        RateEvent.key == slot(), at >= slot()
    )


_counts = Prepared(_build_counts)


def prune_counters() -> int:
    """`villa daily`: counters older than any limit's window go (KEPT); returns how many."""
    stale = (RateEvent.at < now() - KEPT) & RateEvent.key.startswith("lookup:")
    return RateEvent.delete().where(stale).execute()


def _counter(user: User) -> str:
    return f"lookup:{user.id}"


def _seen_key(user: User, number: ExactNumber) -> str:
    # A truncated blind index: the counter knows the same number again, and holds no number in clear.
    return f"{_counter(user)}:{number.kind}:{blind_index(number.kind, number.value)[:16]}"


def _refuse(user: User, period: str, limit: int):
    if not alerts.alerted_since(alerts.LOOKUP_LIMIT, user, office_day_start()):
        alerts.raise_alert(alerts.LOOKUP_LIMIT, user, period=period, limit=limit)
    if period == "minute":
        raise LookupRefused(
            _l(
                "You have looked up %(limit)d complete phone or ID numbers in the last minute, the most "
                "allowed. Wait a minute and try again; the audit team has been told.",
                limit=limit,
            )
        )
    raise LookupRefused(
        _l(
            "You have looked up %(limit)d complete phone or ID numbers today, the most allowed. "
            "Ask the audit team if you need more; they have been told.",
            limit=limit,
        )
    )
