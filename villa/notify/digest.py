"""Each rep's morning digest: the rep's day (villa.home.rep_day) as one notification."""

from villa.clock import OFFICE_UTC_OFFSET, office_today
from villa.db import write_transaction
from villa.home import rep_day
from villa.models import User
from villa.notify.messages import digest_details, notify

LIMIT = 50  # customers a section of the day reads; more shows as "50+"


def morning_digest(rep: User):
    """Write today's digest for this rep, once; None when their day holds nothing to tell."""
    day = rep_day(rep, limit=LIMIT)
    ending = day["protection_ending"]  # protected_until is UTC; the digest names the office's day
    sections = {
        "due_today": [(c.name, None) for c in day["due_today"]],
        "overdue": [(c.name, c.next_followup_on) for c in day["overdue"]],
        "protection_ending": [(c.name, (c.protected_until + OFFICE_UTC_OFFSET).date()) for c in ending],
        "to_fix": [(c.name, None) for c in day["to_fix"]],
    }
    if not any(sections.values()):
        return None
    today = office_today()
    with write_transaction():
        details = digest_details(today, sections, LIMIT)
        return notify(rep, "digest", f"digest:{today.isoformat()}:{rep.id}", details)


def morning_digests() -> tuple[int, int]:
    """Today's digest for every active rep; (reps told, reps with nothing to tell)."""
    told = quiet = 0
    for rep in User.reps():
        if morning_digest(rep):
            told += 1
        else:
            quiet += 1
    return told, quiet
