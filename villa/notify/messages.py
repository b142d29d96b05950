"""Writing staff notifications, and the texts they show.

A notification keeps what its text is made of (`details`): masked customer names, counts, dates.
The text is made when it is shown: in the viewer's language in the inbox, in the office's language
when it leaves the building. A full name, a phone number or a note typed at the desk never goes in.
"""

import json
from datetime import UTC, date, datetime

from flask import g, has_app_context

from villa.clock import OFFICE_TZ, now
from villa.i18n import gettext as _
from villa.identity import mask_name
from villa.models import Customer, Dispute, Notification, NotificationDelivery, User, Visit
from villa.notify.preferences import chosen_channels

NAMES_SHOWN = 10  # names a digest line lists; the count says how many there are
SEPARATOR = "、"


def notify(recipient: User, kind: str, key: str, details: dict, customer_id: int | None = None):
    """Write the notification `key` for this user (once: a second call writes nothing) and one
    delivery for each channel they chose. Call it inside the action's transaction."""
    moment = now()
    Notification.insert(
        recipient=recipient.id,
        kind=kind,
        key=key,
        details=json.dumps(details, ensure_ascii=False),
        customer=customer_id,
        created_at=moment,
    ).on_conflict_ignore().execute()
    notification = Notification.get(Notification.key == key)
    channels = chosen_channels(recipient, kind)
    if channels:
        due = {"notification": notification.id, "next_attempt_at": moment, "created_at": moment}
        rows = [{**due, "channel": channel} for channel in channels]
        NotificationDelivery.insert_many(rows).on_conflict_ignore().execute()
        _send_after_commit(notification.id)
    return notification


def _send_after_commit(notification_id: int):
    # The request sends these once its answer is out (villa.web.notifications); cron does otherwise.
    if has_app_context():
        g.setdefault("staff_notifications_written", []).append(notification_id)


def written_in_this_request() -> list[int]:
    """The notifications with deliveries this request wrote (and forget them)."""
    return g.pop("staff_notifications_written", []) if has_app_context() else []


def return_visit(visit: Visit, actor: User) -> Notification | None:
    """The owning rep's customer came back: tell the rep (not when they logged it themselves)."""
    customer: Customer = visit.customer
    if not customer.owner_id or customer.owner_id == actor.id:
        return None
    details = {"name": mask_name(customer.name), "visit": visit.kind, "at": _stamp(visit.at)}
    return notify(customer.owner, "return_visit", f"return_visit:{visit.id}", details, customer.id)


def dispute_decided(dispute: Dispute, customer: Customer):
    """Tell both reps of the dispute how the manager decided."""
    for rep, claimed in ((dispute.claimant, True), (dispute.owner, False)):
        if rep is None:
            continue
        details = {"name": mask_name(customer.name), "decision": dispute.decision, "claimed": claimed}
        notify(rep, "dispute_decided", f"dispute_decided:{dispute.id}:{rep.id}", details, customer.id)


def digest_details(day: date, sections: dict[str, list[tuple[str, date | None]]], limit: int) -> dict:
    """What a morning digest says: per section how many, and the first names (masked) with a date."""
    details = {"day": day.isoformat()}
    for name, entries in sections.items():
        details[name] = {
            "count": len(entries),
            "more": len(entries) >= limit,  # the day's lists stop at `limit`
            "items": [[mask_name(full), on.isoformat() if on else ""] for full, on in entries[:NAMES_SHOWN]],
        }
    return details


# The texts, in the language of whoever (or wherever) they are shown.


def texts(notification: Notification) -> tuple[str, str]:
    """(title, body) of the notification."""
    details = notification.detail_map
    return TEXTS[notification.kind](details)


def _digest(details: dict) -> tuple[str, str]:
    lines = {
        "due_today": _("Follow-ups due today (%(count)s): %(names)s"),
        "overdue": _("Overdue follow-ups (%(count)s): %(names)s"),
        "protection_ending": _("Protection ends within 3 days (%(count)s): %(names)s"),
        "to_fix": _("Rejected registrations to fix (%(count)s): %(names)s"),
    }
    body = []
    for section, line in lines.items():
        part = details.get(section) or {}
        if part.get("count"):
            count = f"{part['count']}+" if part["more"] else str(part["count"])
            body.append(line % {"count": count, "names": _names(part)})
    title = _("Your reminders for %(day)s", day=_month_day(details["day"]))
    return title, "\n".join(body)


def _names(part: dict) -> str:
    names = [f"{name}（{_month_day(on)}）" if on else name for name, on in part["items"]]
    return SEPARATOR.join(names) + ("…" if part["count"] > len(names) else "")


def _return_visit(details: dict) -> tuple[str, str]:
    values = {"name": details["name"], "time": _office_time(details["at"])}
    if details.get("visit") == "call":
        return _("%(name)s called again", **values), _(
            "Your customer %(name)s called the sales office again (%(time)s).", **values
        )
    return _("%(name)s came back", **values), _(
        "Your customer %(name)s is at the sales office again (%(time)s).", **values
    )


def _dispute_decided(details: dict) -> tuple[str, str]:
    name = details["name"]
    to_claimant, claimed = details["decision"] == "to_claimant", details["claimed"]
    if to_claimant == claimed:
        outcome = _("The manager decided: %(name)s is yours.", name=name)
    elif to_claimant:
        outcome = _("The manager decided: %(name)s goes to the rep who claimed the customer.", name=name)
    else:
        outcome = _("The manager decided: %(name)s stays with the rep who owns the customer.", name=name)
    return _("Dispute decided: %(name)s", name=name), outcome


def test_texts() -> tuple[str, str]:
    return _("Test message from villa"), _(
        "Staff notifications reach this address. There is no customer data in this message."
    )


TEXTS = {"digest": _digest, "return_visit": _return_visit, "dispute_decided": _dispute_decided}


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _office_time(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp).replace(tzinfo=UTC).astimezone(OFFICE_TZ)
    return moment.strftime("%m-%d %H:%M")


def _month_day(day: str) -> str:
    return date.fromisoformat(day).strftime("%m-%d")
