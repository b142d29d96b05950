"""Audit- and access-log rows in words: who did what, to what, in one sentence in the reader's language.

The rows keep what was written (action names, field names, usernames, channel codes); people read
this: "李娜 把阶段从 已到访 改为 签约". Names of people, channels and materials are the office's;
personal values were never stored (they read "changed"), so none can show here. A row of a kind
this module does not know yet still reads as words, never as its code.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from villa import alerts
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.labels import localdatetime
from villa.log_words import (
    ACCESS_SENTENCES,
    ANALYTICS_TABLES,
    CUSTOMER_DETAILS,
    DETAIL,
    DETAIL_CHANGE,
    DETAIL_LABELS,
    ERASURE_PREFIX,
    FIELD_ACTIONS,
    FIELD_CHANGE,
    FIELD_CHANGED_HIDDEN,
    NOT_RECORDED,
    PLACEHOLDER,
    SENTENCES,
    SETTING_LABELS,
    TARGETS,
    TITLES,
    UNKNOWN_ACTION,
    UNSAID,
    USER_DETAILS,
    VALUE_WORDS,
)
from villa.models import AccessLog, Agency, AuditLog, Broker, Channel, Material, User
from villa.notify.preferences import CHANNEL_LABELS as NOTIFY_CHANNEL_LABELS
from villa.notify.preferences import KIND_LABELS as NOTIFY_KIND_LABELS
from villa.timeline import deal_words

log = logging.getLogger(__name__)
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


@dataclass(frozen=True)
class Described:
    """A log row in words: its sentence, then the details the sentence does not tell."""

    sentence: str
    details: list[str]


class Names:
    """What the codes in log rows stand for, read once for a page of rows. `people`: every account
    as (id, display name, username), when the caller has read them already (the logs page's filter)."""

    def __init__(self, people=None):
        if people is None:
            people = User.select(User.id, User.display_name, User.username).tuples()
        self.by_username, self.by_user_id = {}, {}
        for user_id, display_name, username in people:
            self.by_username[username] = display_name
            self.by_user_id[user_id] = display_name
        channels = list(Channel.select(Channel.id, Channel.code, Channel.name))
        self.channel_by_code = {c.code: c.name for c in channels}
        self.channel_by_id = {c.id: c.name for c in channels}
        self.materials = dict(Material.select(Material.id, Material.name).tuples())
        self.agencies = dict(Agency.select(Agency.id, Agency.name).tuples())
        self.brokers = dict(Broker.select(Broker.id, Broker.name).tuples())


def describe_page(entries, names: Names | None = None) -> dict[int, Described]:
    """Each row of a log page in words, by its id."""
    names = names or Names()
    return {entry.id: describe(entry, names) for entry in entries}


def describe(entry, names: Names) -> Described:
    try:
        if isinstance(entry, AccessLog):
            return Described(_access_sentence(entry, names), [])
        return _audit(entry, names)
    except (TypeError, ValueError, KeyError):
        # A row written in a shape this module does not expect (an old version's) still gets a line.
        log.exception("log row %s could not be put into words", entry.id)
        return Described(str(UNKNOWN_ACTION) % {"who": _who(entry, names)}, [])


def title(action: str) -> str:
    """The short name of an action; an alert's from villa.alerts; one not known yet, in general words."""
    if alerts.is_alert(action):
        return alerts.title(action)
    known = TITLES.get(action)
    return str(known) if known is not None else _("Other action")


def known_actions() -> set[str]:
    """Every action this module puts into words (alerts are told by villa.alerts)."""
    return (set(SENTENCES) - {"merged_into"}) | set(ACCESS_SENTENCES)


def _who(entry, names: Names) -> str:
    if entry.actor_id is None:
        return _("The system")
    return names.by_user_id.get(entry.actor_id) or _("a former user")


def _audit(entry: AuditLog, names: Names) -> Described:
    if alerts.is_alert(entry.action):
        return Described(alerts.describe(entry), [])
    changes = entry.change_map if isinstance(entry.change_map, dict) else {}
    who = _who(entry, names)
    told_as = "merged_into" if entry.action == "merged" and "into" in changes else entry.action
    template = SENTENCES.get(told_as, UNKNOWN_ACTION)
    params = _Params({name: value_words(name, value, names) for name, value in changes.items()})
    params.update(who=who, target=_target(entry, names))
    sentence = str(template) % params
    named = set(PLACEHOLDER.findall(str(template)))
    if told_as in FIELD_ACTIONS:
        sentences = [_field_sentence(who, name, value, names) for name, value in changes.items()]
        if sentences:
            return Described(sentences[0], sentences[1:])
    if told_as == "setting_changed":
        return Described(sentence, [_setting_detail(name, value, names) for name, value in changes.items()])
    details = [
        _detail(name, value, names)
        for name, value in changes.items()
        if name not in named and name not in UNSAID
    ]
    return Described(sentence, details)


def _field_sentence(who: str, name: str, value, names: Names) -> str:
    field = field_words(name)
    if name == "review":
        return str(DETAIL) % {"what": field, "value": value_words(name, value, names)}
    change = _as_change(value)
    if change is not None:
        old, new = (value_words(name, v, names) for v in change)
        return str(FIELD_CHANGE) % {"who": who, "field": field, "old": old, "new": new}
    if isinstance(value, str) and value in NOT_RECORDED:
        return str(FIELD_CHANGED_HIDDEN) % {"who": who, "field": field}
    return str(DETAIL) % {"what": field, "value": value_words(name, value, names)}


def _setting_detail(key: str, value, names: Names) -> str:
    base = key.partition(":")[0]
    if isinstance(value, list) and len(value) == 2:
        old, new = (value_words(base, v, names) for v in value)
        return str(DETAIL_CHANGE) % {"what": setting_words(key, names), "old": old, "new": new}
    return str(DETAIL) % {"what": setting_words(key, names), "value": value_words(base, value, names)}


def _as_change(value):
    """[old, new] as rows write a change (or {"old": …, "new": …}); None for any other value."""
    if isinstance(value, list) and len(value) == 2:
        return value
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return [value["old"], value["new"]]
    return None


def _detail(name: str, value, names: Names) -> str:
    change = None if name in ("fields", "materials", "changed") else _as_change(value)
    if change is not None:
        old, new = (value_words(name, v, names) for v in change)
        return str(DETAIL_CHANGE) % {"what": field_words(name), "old": old, "new": new}
    return str(DETAIL) % {"what": field_words(name), "value": value_words(name, value, names)}


def field_words(name: str) -> str:
    """A field's or detail's name as the office says it; one this module does not know, in general words."""
    from villa.profile import EDITABLE

    spec = EDITABLE.get(name)
    if spec is not None:
        return str(spec.label)
    label = DETAIL_LABELS.get(name)
    return str(label) if label is not None else _("another detail")


def setting_words(key: str, names: Names) -> str:
    base, _sep, team = key.partition(":")
    label = SETTING_LABELS.get(base)
    words = str(label) if label is not None else _("another setting")
    if team.isdigit():
        return _("%(setting)s of the team of %(manager)s", setting=words, manager=_user_id(int(team), names))
    return words


def value_words(name: str, value, names: Names) -> str:
    """A detail's value in words: names for usernames and codes, labels for fields."""
    if value is None or value == "":
        return "—"
    if name == "reached" and isinstance(value, bool):
        return str(_l("reached the customer") if value else _l("did not reach the customer"))
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if isinstance(value, str) and value in NOT_RECORDED:
        return str(NOT_RECORDED[value])
    if name in ("fields", "changed") and isinstance(value, list):
        return "、".join(field_words(v) for v in value) or "—"
    if name == "given" and isinstance(value, list):  # [[username or None (the pool), count], ...]
        return "、".join(
            f"{names.by_username.get(u, u) if u else _('the public pool')} {n}" for u, n in value
        )
    if name == "materials" and isinstance(value, list):
        return "、".join(names.materials.get(v, f"#{v}") for v in value) or "—"
    if name == "choices" and isinstance(value, dict):
        return "；".join(_reminder_words(kind, chosen) for kind, chosen in value.items()) or "—"
    if name == "deal" and isinstance(value, dict):
        return deal_words(value)
    if isinstance(value, dict):
        return "；".join(f"{field_words(k)}：{value_words(k, v, names)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(value_words(name, v, names) for v in value) or "—"
    if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
        return localdatetime(datetime.fromisoformat(value))  # stored moments are UTC, shown in office time
    if name in USER_DETAILS and isinstance(value, str):
        return names.by_username.get(value, value)
    if name == "user" and isinstance(value, int):
        return _user_id(value, names)
    if name == "channel" and isinstance(value, str):
        return names.channel_by_code.get(value, value)
    if name == "content_type" and isinstance(value, str):
        return value.rpartition("/")[2].upper()  # PDF, PNG, JPEG
    if name in ("dispute", "merge", "followup", "corrects"):
        return f"#{value}"
    if name in ("from",) + CUSTOMER_DETAILS and isinstance(value, int):
        return f"#{value}"
    if name == "reason" and isinstance(value, str) and value.startswith(ERASURE_PREFIX):
        return _("the customer's request: %(reason)s", reason=value.removeprefix(ERASURE_PREFIX))
    words = VALUE_WORDS.get(name, {})
    if value in words:
        return str(words[value])
    return str(value)


def _reminder_words(kind: str, chosen: list) -> str:
    by = "、".join(str(NOTIFY_CHANNEL_LABELS.get(channel, channel)) for channel in chosen) or "—"
    return f"{NOTIFY_KIND_LABELS.get(kind, _('another reminder'))}：{by}"


def _user_id(user_id: int, names: Names) -> str:
    return names.by_user_id.get(user_id) or _("a former user")


def _target(entry: AuditLog, names: Names) -> str:
    kind, _sep, rest = (entry.target or "").partition(":")
    if kind == "user" and rest.isdigit():
        return _user_id(int(rest), names)
    if kind == "channel" and rest.isdigit():
        return names.channel_by_id.get(int(rest), f"#{rest}")
    if kind == "material" and rest.isdigit():
        return names.materials.get(int(rest), f"#{rest}")
    if kind == "agency" and rest.isdigit():
        return names.agencies.get(int(rest), f"#{rest}")
    if kind == "broker" and rest.isdigit():
        return names.brokers.get(int(rest), f"#{rest}")
    if kind == "setting":
        return setting_words(rest, names)
    if kind == "backup":
        return rest
    if kind in TARGETS:
        return str(TARGETS[kind]) % {"id": rest}
    return ""


def _access_sentence(entry: AccessLog, names: Names) -> str:
    template = ACCESS_SENTENCES.get(entry.action, UNKNOWN_ACTION)
    fields = [f for f in (entry.fields or "").split(",") if f]
    params = _Params(who=_who(entry, names), fields=_(" and ").join(_access_field(f) for f in fields) or "—")
    params["what"] = _export_words(entry.fields or "")
    return str(template) % params


def _access_field(name: str) -> str:
    words = {"phone": _l("phone number"), "id_number": _l("ID number"), "name": _l("name")}
    return str(words.get(name) or field_words(name))


def _export_words(fields: str) -> str:
    kind, _sep, rest = fields.partition(":")
    if kind == "incident":
        return _("the customers affected by incident #%(id)s", id=rest)
    if kind == "commission":
        return _("the commission confirmation list (佣金确认)")
    if kind == "analytics":
        table = ANALYTICS_TABLES.get(rest)
        return _("the analytics table of %(table)s", table=table) if table else _("an analytics table")
    if fields == "masked":
        return _("the customer list, names and phones masked")
    return _("the customer list, with names and phones in full")


class _Params(dict):
    """A sentence's values; one the row lacks reads as "—"."""

    def __missing__(self, key):
        return "—"
