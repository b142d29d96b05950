"""Where each user's reminders go besides the inbox (always on), and their addresses."""

import json

from villa import settings
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, NotificationPreference, User, now
from villa.notify import checks
from villa.notify.wecom import robot_for

# kind -> the roles that get it. Each is about a rep's own customers.
KIND_ROLES = {
    "digest": ("rep",),
    "return_visit": ("rep",),
    "dispute_decided": ("rep",),
}
KIND_LABELS = {
    "digest": _l("Morning digest: due today, overdue, protection ending, to fix"),
    "return_visit": _l("A customer of mine came back to the sales office"),
    "dispute_decided": _l("A dispute over a customer of mine was decided"),
}
CHANNELS = ("email", "wecom")
CHANNEL_LABELS = {"inbox": _l("Inbox"), "email": _l("Email"), "wecom": _l("WeCom group")}


class PreferenceProblem(ValueError):
    """Refused preferences: `problems` maps a field (email, wecom_user_id, <kind>_<channel>) to why."""

    def __init__(self, problems: dict):
        super().__init__(", ".join(problems))
        self.problems = problems


def kinds_for(user: User) -> list[str]:
    """The reminders this user's role gets."""
    return [kind for kind, roles in KIND_ROLES.items() if user.role in roles]


def preference_of(user_id: int) -> NotificationPreference | None:
    return NotificationPreference.get_or_none(NotificationPreference.user == user_id)


def chosen_channels(user: User, kind: str) -> list[str]:
    """The channels besides the inbox this user wants this kind of reminder through."""
    if not user.active or user.role not in KIND_ROLES.get(kind, ()):
        return []
    preference = preference_of(user.id)
    wanted = preference.choice_map.get(kind, []) if preference else []
    return [channel for channel in CHANNELS if channel in wanted]


def email_ready() -> bool:
    """Has the administrator set up the mail server?"""
    return bool(settings.read("smtp")["host"])


def save_preferences(user: User, email: str, wecom_user_id: str, choices: dict[str, list[str]]) -> bool:
    """Keep the user's addresses and choices, each checked; raises PreferenceProblem when refused.

    `choices` maps a kind to the channels chosen for it. Returns whether anything changed."""
    email, problems = checks.email_address(email, "email")
    wecom_user_id, found = checks.wecom_user_id(wecom_user_id, "wecom_user_id")
    problems.update(found)
    kinds = kinds_for(user)
    typed = {kind: [c for c in CHANNELS if c in choices.get(kind, ())] for kind in kinds}
    for field, message in _unavailable(user, email, typed).items():
        problems.setdefault(field, message)  # a mistyped address is said first
    if problems:
        raise PreferenceProblem(problems)
    preference = preference_of(user.id) or NotificationPreference(user=user)
    before = (preference.email, preference.wecom_user_id, preference.choice_map)
    if before == (email, wecom_user_id, typed):
        return False
    preference.email, preference.wecom_user_id = email, wecom_user_id
    preference.choices, preference.updated_at = json.dumps(typed), now()
    with db.atomic():
        preference.save()
        # The addresses as "changed" only: the audit log keeps no contact details.
        changes = {"choices": [before[2], typed]}
        if before[0] != email:
            changes["email"] = "changed"
        if before[1] != wecom_user_id:
            changes["wecom_user_id"] = "changed"
        AuditLog.create(
            actor=user,
            action="notification_preferences",
            target=f"user:{user.id}",
            changes=json.dumps(changes, ensure_ascii=False),
        )
    return True


def _unavailable(user: User, email: str, typed: dict) -> dict:
    """A channel chosen that cannot reach this user: said at the first box that chose it."""
    problems = {}
    by_email = [kind for kind, channels in typed.items() if "email" in channels]
    if by_email and not email_ready():
        problems[f"{by_email[0]}_email"] = _l("Email is not set up yet: ask the administrator.")
    elif by_email and not email:
        problems["email"] = _l("Give your email address to get reminders by email.")
    to_group = [kind for kind, channels in typed.items() if "wecom" in channels]
    if to_group and not robot_for(user):
        problems[f"{to_group[0]}_wecom"] = _l(
            "No WeCom group robot is set up for your team yet: ask your manager or the administrator."
        )
    return problems


def team_robot_key(manager: User) -> str:
    """The setting that holds the group robot of this manager's team."""
    return f"wecom_webhook:{manager.id}"
