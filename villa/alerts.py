"""Alerts for the audit team (监督).

Any audit-log row whose action starts with "alert_" is an alert: this module writes some (a user
whose reveals, lookups or exports in one office day pass the office's threshold; a user stopped at
the lookup limit), other modules write others (a locked account), and the audit team reads them
all, each put into one sentence. The day's unusual activity is also counted live from the access
log, with the details an auditor looks at first.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from peewee import JOIN, fn

from villa import settings
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.logs import ALERT_PREFIX, alert_actions
from villa.models import AccessLog, AuditLog, User, office_day_start, office_today

PREFIX = ALERT_PREFIX
# Access-log action -> (the setting holding its daily threshold, the alert written when passed).
THRESHOLDS = {
    "reveal": ("alert_reveals_per_day", "alert_many_reveals"),
    "lookup": ("alert_lookups_per_day", "alert_many_lookups"),
    "export": ("alert_exports_per_day", "alert_many_exports"),
}
LOOKUP_LIMIT = "alert_lookup_limit"
# One sentence per kind; %(user)s is who it is about, the rest come from the row's details.
SENTENCES = {
    "alert_many_reveals": _l(
        "%(user)s revealed full phone or ID numbers %(count)s times today (alert above %(threshold)s)."
    ),
    "alert_many_lookups": _l(
        "%(user)s found %(count)s customers not their own by exact phone or ID number today "
        "(alert above %(threshold)s)."
    ),
    "alert_many_exports": _l(
        "%(user)s exported the customer list %(count)s times today (alert above %(threshold)s)."
    ),
    "alert_lookup_limit": _l(
        "%(user)s reached the limit of %(limit)s exact phone or ID lookups %(per)s; further lookups "
        "were refused."
    ),
    "alert_account_locked": _l("The account of %(user)s was locked after repeated wrong passwords."),
}
TITLES = {
    "alert_many_reveals": _l("Alert: many reveals"),
    "alert_many_lookups": _l("Alert: many lookups"),
    "alert_many_exports": _l("Alert: many exports"),
    "alert_lookup_limit": _l("Alert: lookup limit reached"),
    "alert_account_locked": _l("Alert: account locked"),
}
PERIODS = {"minute": _l("in a minute"), "day": _l("in a day")}


def is_alert(action: str) -> bool:
    return action.startswith(PREFIX)


def raise_alert(action: str, user: User, **details):
    """Write one alert about this user for the audit team."""
    AuditLog.create(
        actor=user,
        action=action,
        target=f"user:{user.id}",
        changes=json.dumps(details, ensure_ascii=False),
    )


def alerted_since(action: str, user: User, since: datetime) -> bool:
    return (
        AuditLog.select()
        .where(AuditLog.action == action, AuditLog.at >= since, AuditLog.target == f"user:{user.id}")
        .exists()
    )


def note_access(user: User, action: str):
    """After an access-log row: alert once a day when this user's count of the action passes its
    threshold. Once alerted, the day's rows are not counted again; before, only up to one past the
    threshold (a desk checks hundreds of numbers a day: each check would read them all)."""
    setting, alert = THRESHOLDS[action]
    threshold, start = settings.read(setting), office_day_start()
    if alerted_since(alert, user, start):
        return
    todays = AccessLog.select().where(
        AccessLog.actor == user, AccessLog.at >= start, AccessLog.action == action
    )
    if todays.limit(threshold + 1).count() > threshold:
        raise_alert(alert, user, count=todays.count(), threshold=threshold)


# Reading


@dataclass
class Activity:
    """One user's reveals, lookups and exports in an office day."""

    user: User
    counts: dict = field(default_factory=dict)  # access action -> count
    first_at: datetime | None = None
    last_at: datetime | None = None
    over: list = field(default_factory=list)  # the actions past their threshold


def unusual_activity(day: date | None = None) -> list[Activity]:
    """Users whose reveals, lookups or exports on this office day passed a threshold, busiest first."""
    day = day or office_today()
    start, end = office_day_start(day), office_day_start(day + timedelta(days=1))
    rows = (
        AccessLog.select(
            AccessLog.actor,
            AccessLog.action,
            fn.COUNT(AccessLog.id),
            fn.MIN(AccessLog.at),
            fn.MAX(AccessLog.at),
        )
        .where(AccessLog.at >= start, AccessLog.at < end)
        .group_by(AccessLog.actor, AccessLog.action)
        .tuples()
    )
    thresholds = {action: settings.read(setting) for action, (setting, _alert) in THRESHOLDS.items()}
    found: dict[int, Activity] = {}
    for user_id, action, count, first_at, last_at in rows:
        activity = found.setdefault(user_id, Activity(user=None))
        activity.counts[action] = count
        activity.first_at = min(filter(None, (activity.first_at, first_at)))
        activity.last_at = max(filter(None, (activity.last_at, last_at)))
        if action in thresholds and count > thresholds[action]:
            activity.over.append(action)
    unusual = {user_id: a for user_id, a in found.items() if a.over}
    for user in User.select().where(User.id.in_(list(unusual))):
        unusual[user.id].user = user
    return sorted(unusual.values(), key=lambda a: -sum(a.counts.values()))


def recent_alerts(since: datetime, limit: int = 50) -> list[AuditLog]:
    """Alerts written since this moment, newest first, with the user each is about."""
    actions = alert_actions()
    if not actions:
        return []
    return list(
        AuditLog.select(AuditLog, User)
        .join(User, JOIN.LEFT_OUTER, on=(AuditLog.actor == User.id))
        .where(AuditLog.action.in_(actions), AuditLog.at >= since)
        .order_by(AuditLog.id.desc())
        .limit(limit)
    )


def title(action: str) -> str:
    """The short name of an alert kind (the log viewer's action column)."""
    known = TITLES.get(action)
    return str(known) if known else _("Alert (%(kind)s)", kind=action[len(PREFIX) :])


def describe(entry: AuditLog) -> str:
    """The alert in one sentence, as plain text (the template escapes every part of it)."""
    details = entry.change_map
    who = _user_words(entry, details)
    sentence = SENTENCES.get(entry.action)
    if sentence is None:
        return _("Alert (%(kind)s) about %(user)s.", kind=entry.action[len(PREFIX) :], user=who)
    values = _Details({name: str(value) for name, value in details.items()})
    values.update(user=who, per=str(PERIODS.get(details.get("period"), "")))
    return str(sentence) % values


class _Details(dict):
    """An alert's details for its sentence; a detail the row lacks reads as "?"."""

    def __missing__(self, key):
        return "?"


def _user_words(entry: AuditLog, details: dict) -> str:
    if entry.actor_id and entry.actor:
        return f"{entry.actor.display_name} ({entry.actor.username})"
    return str(details.get("username") or entry.target or _("someone"))
