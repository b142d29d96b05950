"""Exact phone and ID lookups are reveals.

A complete phone or ID number typed into the list search, the desk's duplicate check or the export
filter tells the caller whether that number is a customer, and whose. So each user may look up only
so many different complete numbers a minute and a day (office settings); beyond that the answer is
refused and the audit team alerted. A lookup that finds a customer the caller may not see in full
writes an access-log row. Typing is never counted: an incomplete or invalid number is no lookup.

The counters are RateEvent rows, shared by every worker and host.
"""

from dataclasses import dataclass
from datetime import timedelta

from villa import alerts, settings
from villa.crypto import blind_index, blind_indexes
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.identity import try_normalise_id_number, try_normalise_phone
from villa.models import AccessLog, RateEvent, User, now, office_day_start

MINUTE = timedelta(minutes=1)
KEPT = timedelta(days=2)  # counters older than this are of no limit's window any more


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


def count_lookup(user: User, number: ExactNumber):
    """Count this lookup against the user's limits, or raise LookupRefused (and alert) beyond them.

    A number the user already looked up today counts once: asking again tells nothing new, and the
    desk's form asks again when the field loses focus.
    """
    counter = f"lookup:{user.id}"
    seen = f"{counter}:{number.kind}:{blind_index(number.kind, number.value)[:16]}"
    moment, day_start = now(), office_day_start()
    if RateEvent.select().where(RateEvent.key == seen, RateEvent.at >= day_start).exists():
        return
    counted = RateEvent.select().where(RateEvent.key == counter)
    per_minute, per_day = settings.read("lookup_limit_per_minute"), settings.read("lookup_limit_per_day")
    if counted.where(RateEvent.at >= day_start).count() >= per_day:
        _refuse(user, "day", per_day)
    if counted.where(RateEvent.at > moment - MINUTE).count() >= per_minute:
        _refuse(user, "minute", per_minute)
    with db.atomic():
        RateEvent.insert_many([{"key": counter, "at": moment}, {"key": seen, "at": moment}]).execute()
        RateEvent.delete().where(RateEvent.at < moment - KEPT, RateEvent.key.startswith("lookup:")).execute()


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


def log_lookups(user: User, customers, field: str, ip: str = ""):
    """One access-log row per customer a lookup by `field` found that the caller may not see in full.

    The caller decides which customers those are (villa.customers.can_see_full).
    """
    rows = [
        {"actor": user.id, "action": "lookup", "customer": c.id, "fields": field, "ip": ip, "at": now()}
        for c in customers
    ]
    if not rows:
        return
    AccessLog.insert_many(rows).execute()
    alerts.note_access(user, "lookup")
