"""Office settings and source channels: each setting read as its type, checked, and written with
an audit row. A value that is missing or no longer valid reads as its default."""

import copy
import json
import os
import re
import tempfile
from pathlib import Path

from peewee import IntegrityError

from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.instance import DEFAULT_SETTINGS
from villa.models import FOLLOWUP_KINDS, AuditLog, Channel, SecretSetting, Setting, User
from villa.notify import checks as notify_checks
from villa.questions import DEFAULT_OPTIONS, OPTION_MAX, QUESTIONS, SEPARATOR

PRIVACY_NOTICE_TEXT = (
    "本售楼处收集您的姓名、联系电话及购房需求，仅用于为您提供置业咨询、看房接待及后续服务。"
    "证件号码和财务信息仅在您单独同意后登记。您的信息加密保存，不会提供给第三方；"
    "您可随时要求查阅、更正或删除。"
)
# Secret settings live encrypted in their own table (SecretSetting), are never shown back in full,
# and their audit rows say "changed" without the values. A group robot of one sales team is
# "wecom_webhook:<the manager's id>"; "wecom_webhook" alone is the office's.
SECRET_KEYS = ("smtp_password", "wecom_webhook")
DEFAULTS = {
    **DEFAULT_SETTINGS,
    "privacy_notice_text": PRIVACY_NOTICE_TEXT,
    "smtp_password": "",
    "wecom_webhook": "",
    **DEFAULT_OPTIONS,
}

RENEWALS = ("full", "short", "none")  # what a reached follow-up of a kind does to protection
CHANNEL_KINDS = ("direct", "online", "event", "referral", "broker")
CHANNEL_CODE = re.compile(r"^[a-z0-9_]{1,30}$")
MESSAGE_MAX = 140  # as villa.messaging sends it: two SMS segments
NOTICE_MAX = 280  # an incident notice has more to say: four SMS segments
SAMPLE_NAME = "张三丰"  # a message is measured with a 3-character name filled in
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class SettingProblem(ValueError):
    """Refused values: `problems` maps a key (or "key.part" inside a mapping) to its message."""

    def __init__(self, problems: dict):
        super().__init__(", ".join(problems))
        self.problems = problems


# Each check takes a candidate value and returns (typed value, {path: message}).


def _number(low: int, high: int):
    def check(value, path):
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None, {path: _l("Enter a whole number.")}
        try:
            number = int(value)
        except ValueError:
            return None, {path: _l("Enter a whole number.")}
        if not low <= number <= high:
            return None, {path: _l("Enter a number from %(low)d to %(high)d.", low=low, high=high)}
        return number, {}

    return check


def _lines(max_lines: int, max_length: int):
    def check(value, path):
        if isinstance(value, str):
            value = value.splitlines()
        if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
            return None, {path: _l("Write one item per line.")}
        lines = [line.strip() for line in value if line.strip()]
        if not 1 <= len(lines) <= max_lines:
            return None, {path: _l("Write 1 to %(max)d lines.", max=max_lines)}
        if any(len(line) > max_length for line in lines):
            return None, {path: _l("Each line may have at most %(max)d characters.", max=max_length)}
        return lines, {}

    return check


def _options(value, path):
    """A question's options (villa.questions): one per line, none holding the separator of answers."""
    lines, problems = _lines(50, OPTION_MAX)(value, path)
    if problems:
        return None, problems
    if any(SEPARATOR in line or "|" in line for line in lines):
        return None, {path: _l("An option may not contain 、 or |: they separate several answers.")}
    if len(set(lines)) != len(lines):
        return None, {path: _l("Each option once only.")}
    return lines, {}


def _text(max_length: int):
    def check(value, path):
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            return None, {path: _l("This cannot be empty.")}
        if len(text) > max_length:
            return None, {path: _l("At most %(max)d characters.", max=max_length)}
        return text, {}

    return check


def _version(value, path):
    version = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"[\w.-]{1,20}", version):
        return None, {path: _l("Use 1 to 20 letters, digits, dots or dashes, e.g. 2026-11.")}
    return version, {}


def _flag(value, path):
    if not isinstance(value, bool):
        return None, {path: _l("Choose yes or no.")}
    return value, {}


def _choice(*choices: str):
    def check(value, path):
        if value not in choices:
            return None, {path: _l("Choose one of the options.")}
        return value, {}

    return check


def _mapping(parts: dict):
    def check(value, path):
        if not isinstance(value, dict):
            value = {}
        typed, problems = {}, {}
        for part, part_check in parts.items():
            typed[part], found = part_check(value.get(part), f"{path}.{part}")
            problems.update(found)
        return (None if problems else typed), problems

    return check


def _template(kind: str):
    def check(value, path):
        text, problems = _text(500)(value, path)
        if problems:
            return None, problems
        names = PLACEHOLDER.findall(text)
        unknown = [n for n in names if n not in ("name", "reason")]
        if unknown:
            return None, {
                path: _l(
                    "Unknown placeholder {%(placeholder)s}: use only {name} and {reason}.",
                    placeholder=unknown[0],
                )
            }
        if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
            return None, {path: _l("Braces are only for {name} and {reason}.")}
        if kind == "rejection" and "reason" not in names:
            return None, {path: _l("The rejection message must contain {reason}.")}
        if kind == "approval" and "reason" in names:
            return None, {path: _l("An approval has no reason: remove {reason}.")}
        length = len(text.replace("{name}", SAMPLE_NAME).replace("{reason}", ""))
        if length > MESSAGE_MAX:
            return None, {
                path: _l(
                    "At most %(max)d characters with a 3-character name filled in (now %(length)d).",
                    max=MESSAGE_MAX,
                    length=length,
                )
            }
        return text, {}

    return check


CUSTOMER_TEXT_MAX = 60


def _customer_text(value, path, internal: str = ""):
    """What a customer reads for a rejection reason: short, no braces, never the internal reason."""
    text, problems = _text(CUSTOMER_TEXT_MAX)(value, path)
    if problems:
        return None, problems
    if "{" in text or "}" in text:
        return None, {path: _l("No braces in a text for the customer.")}
    if internal and internal in text:
        return None, {path: _l("The text for the customer must not repeat the internal reason.")}
    return text, {}


def _customer_texts(value, path):
    """{internal reason: what the customer reads}; a reason may have none (the default text goes)."""
    if not isinstance(value, dict):
        return None, {path: _l("Write one item per line.")}
    typed, problems = {}, {}
    for reason, text in value.items():
        if not isinstance(reason, str):
            return None, {path: _l("Write one item per line.")}
        typed[reason], found = _customer_text(text, f"{path}.{reason}", reason)
        problems.update(found)
    return (None if problems else typed), problems


def _notice(value, path):
    """An incident notice: {name} the only placeholder, at most NOTICE_MAX with a name filled in."""
    text, problems = _text(500)(value, path)
    if problems:
        return None, problems
    if (
        any(name != "name" for name in PLACEHOLDER.findall(text))
        or "{" in PLACEHOLDER.sub("", text)
        or ("}" in PLACEHOLDER.sub("", text))
    ):
        return None, {path: _l("Use braces only for {name}, the customer's name.")}
    length = len(text.replace("{name}", SAMPLE_NAME))
    if length > NOTICE_MAX:
        return None, {
            path: _l(
                "At most %(max)d characters with a 3-character name filled in (now %(length)d).",
                max=NOTICE_MAX,
                length=length,
            )
        }
    return text, {}


def _folder_path(value, path):
    """A folder named by its absolute path, or "" for none (whether it is there is checked on save)."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) > 300 or any(ord(c) < 32 for c in text):
        return None, {path: _l("Enter the folder's full path, e.g. /mnt/nas/villa-backups.")}
    if text and not os.path.isabs(text):
        return None, {path: _l("Enter the folder's full path, starting with /.")}
    return text, {}


def folder_problem(folder: str) -> str | None:
    """Why files cannot be written into this folder now ("missing", "not_folder", "unwritable"), or None.

    The folder is never created here: a NAS or USB disk that is not mounted leaves an empty mount
    point on the local disk, and a copy written there would be no copy at all."""
    place = Path(folder)
    if not place.exists():
        return "missing"
    if not place.is_dir():
        return "not_folder"
    try:  # trying is the only sure test: read-only mounts, network file systems, root
        with tempfile.TemporaryFile(dir=place):
            pass
    except OSError:
        return "unwritable"
    return None


FOLDER_PROBLEMS = {
    "missing": _l("This folder does not exist. Is the NAS or USB disk mounted?"),
    "not_folder": _l("This is a file, not a folder."),
    "unwritable": _l("Villa cannot write into this folder: check its owner and permissions."),
}


def _copy_folder_usable(folder: str, path: str) -> dict:
    if not folder:
        return {}
    problem = folder_problem(folder)
    if problem:
        return {path: FOLDER_PROBLEMS[problem]}
    return {}


def _smtp(value, path):
    """The office's mail server for staff notifications; an empty host: email is not set up."""
    typed, problems = _mapping(
        {
            "host": notify_checks.host_name,
            "port": _number(1, 65535),
            "security": _choice("starttls", "ssl", "none"),
            "username": notify_checks.user_name,
            "sender": notify_checks.email_address,
        }
    )(value, path)
    problems = problems or notify_checks.smtp_cross_check(typed, path)
    return (None if problems else typed), problems


CHECKS = {
    "protection_days_visit": _number(1, 90),
    "protection_days_call": _number(1, 90),
    "pool_quota": _number(0, 500),
    "protection_renewal": _mapping({kind: _choice(*RENEWALS) for kind in FOLLOWUP_KINDS}),
    "protection_days_short": _number(1, 90),
    "protection_max_days": _number(1, 3650),
    "protected_customers_cap": _number(1, 100_000),
    "pool_cooldown_days": _number(0, 365),
    "retention_years": _number(1, 30),
    "backups_daily": _number(1, 365),
    "backups_weekly": _number(0, 260),
    "backups_monthly": _number(0, 240),
    "backup_copy_dir": _folder_path,
    "backup_age_limit_hours": _number(1, 720),
    "restore_test_weekday": _number(0, 6),
    "incident_message_template": _notice,
    "correction_link_hours": _number(1, 720),
    "privacy_notice_text": _text(2000),
    "privacy_notice_version": _version,
    "rejection_reasons": _lines(30, 100),
    "rejection_customer_texts": _customer_texts,
    "rejection_customer_default": _customer_text,
    "review_checklist": _lines(30, 200),
    **dict.fromkeys(DEFAULT_OPTIONS, _options),
    "message_templates": _mapping({"rejection": _template("rejection"), "approval": _template("approval")}),
    "notify_on_approval": _flag,
    # Up to "as good as none" for an instance that is no office (the benchmark's).
    "lookup_limit_per_minute": _number(1, 1_000_000),
    "lookup_limit_per_day": _number(1, 100_000_000),
    "report_valid_days": _number(1, 30),
    "report_limit_per_hour": _number(1, 1000),
    "masked_phone": _choice("standard", "last_four"),
    "masked_id_number": _choice("standard", "last_four"),
    "alert_reveals_per_day": _number(1, 100_000),
    "alert_lookups_per_day": _number(1, 100_000),
    "alert_exports_per_day": _number(1, 100_000),
    "eligibility_rules": _mapping(
        {
            "local_max_homes_owned": _number(0, 10),
            "nonlocal_min_months": _number(0, 240),
            "nonlocal_max_homes_owned": _number(0, 10),
        }
    ),
    # Staff notifications (villa.notify): the mail server and the WeCom group robots.
    "smtp": _smtp,
    "smtp_password": notify_checks.smtp_password,
    "wecom_webhook": notify_checks.robot_address,
}


def _base(key: str) -> str:
    """The setting a key is one of: "wecom_webhook:12" (a team's robot) is a "wecom_webhook"."""
    return key.partition(":")[0]


def read(key: str):
    """The setting as its type: the stored value when it is valid, else the default."""
    base = _base(key)
    stored = _read_secret(key) if base in SECRET_KEYS else Setting.read(key)
    if stored is not None:
        value, problems = CHECKS[base](stored, key)
        if not problems:
            return value
    return copy.deepcopy(DEFAULTS[base])


def question_options(name: str) -> list[str]:
    """The options the office offers today for one of the questions (villa.questions)."""
    return read(QUESTIONS[name][0])


def _read_secret(key: str) -> str | None:
    row = SecretSetting.get_or_none(SecretSetting.key == key)
    return row.value if row else None


def _write_secret(key: str, value: str):
    """Keep the secret, encrypted; an empty one is removed."""
    SecretSetting.delete().where(SecretSetting.key == key).execute()
    if value:
        SecretSetting.create(key=key, value=value)


def masking() -> dict:
    """Whether the masked forms keep their leading digits, by kind: {"phone": bool, "id_number": bool}."""
    return {kind: read(f"masked_{kind}") == "standard" for kind in ("phone", "id_number")}


def save(values: dict, actor: User) -> dict:
    """Check these settings together and write the ones that changed, each with an audit row.

    Raises SettingProblem and writes nothing when any value is refused; returns {key: [old, new]}."""
    typed = check(values)
    changes = {key: [read(key), value] for key, value in typed.items() if read(key) != value}
    with db.atomic():
        for key, (old, new) in changes.items():
            if _base(key) in SECRET_KEYS:
                _write_secret(key, new)
                _audit(actor, "setting_changed", f"setting:{key}", {key: "changed" if new else "removed"})
            else:
                Setting.write(key, new)
                _audit(actor, "setting_changed", f"setting:{key}", {key: [old, new]})
    return changes


def check(values: dict) -> dict:
    """These settings as their types, checked together; raises SettingProblem when any is refused."""
    typed, problems = {}, {}
    for key, value in values.items():
        typed[key], found = CHECKS[_base(key)](value, key)
        problems.update(found)
    if "privacy_notice_text" in typed and "privacy_notice_version" not in problems:
        old_text, old_version = read("privacy_notice_text"), read("privacy_notice_version")
        new_version = typed.get("privacy_notice_version", old_version)
        if typed["privacy_notice_text"] not in (None, old_text) and new_version == old_version:
            problems["privacy_notice_version"] = _l("The notice text changed: give it a new version.")
    limits = ("lookup_limit_per_minute", "lookup_limit_per_day")
    if not problems and any(key in typed for key in limits):
        per_minute, per_day = (typed[key] if key in typed else read(key) for key in limits)
        if per_minute > per_day:
            problems["lookup_limit_per_day"] = _l("A day allows at least as many lookups as a minute.")
    problems.update(_internal_reasons_kept_inside(typed, problems))
    if typed.get("backup_copy_dir") and "backup_copy_dir" not in problems:
        problems.update(_copy_folder_usable(typed["backup_copy_dir"], "backup_copy_dir"))
    if problems:
        raise SettingProblem(problems)
    return typed


def _internal_reasons_kept_inside(typed: dict, problems: dict) -> dict:
    """No text for the customer may quote any internal rejection reason, its own or another's."""
    reasons = typed.get("rejection_reasons") or read("rejection_reasons")
    texts = dict(typed.get("rejection_customer_texts") or {})
    if "rejection_customer_default" in typed and typed["rejection_customer_default"]:
        texts[""] = typed["rejection_customer_default"]
    found = {}
    for owner, text in texts.items():
        path = f"rejection_customer_texts.{owner}" if owner else "rejection_customer_default"
        if path not in problems and any(reason in text for reason in reasons):
            found[path] = _l("The text for the customer must not repeat an internal reason.")
    return found


# Channels: the list the desk picks a customer's source from. A code is fixed once made (customers
# and reports refer to it) and a channel is never deleted, only taken off the list.


def add_channel(code: str, name: str, kind: str, protection_days: int | None, actor: User) -> Channel:
    code = (code or "").strip()
    if not CHANNEL_CODE.match(code):
        raise SettingProblem({"code": _l("Use 1 to 30 lower-case letters, digits or underscores.")})
    if Channel.select().where(Channel.code == code).exists():
        raise SettingProblem({"code": _l("This code is taken: choose another.")})
    name, problems = _channel_fields(name, kind, protection_days)
    if problems:
        raise SettingProblem(problems)
    last = Channel.select().order_by(Channel.sort_order.desc()).first()
    try:
        with db.atomic():
            channel = Channel.create(
                code=code,
                name=name,
                kind=kind,
                protection_days=protection_days,
                sort_order=(last.sort_order + 1) if last else 0,
            )
            details = {"code": code, "name": name, "kind": kind, "protection_days": protection_days}
            _audit(actor, "channel_added", f"channel:{channel.id}", details)
    except IntegrityError:
        raise SettingProblem({"code": _l("This code is taken: choose another.")}) from None
    return channel


def change_channel(channel: Channel, name: str, kind: str, protection_days: int | None, actor: User) -> dict:
    """Rename a channel or change its kind or protection period; returns {field: [old, new]}."""
    name, problems = _channel_fields(name, kind, protection_days)
    if problems:
        raise SettingProblem(problems)
    changes = {
        field: [getattr(channel, field), new]
        for field, new in (("name", name), ("kind", kind), ("protection_days", protection_days))
        if getattr(channel, field) != new
    }
    if changes:
        channel.name, channel.kind, channel.protection_days = name, kind, protection_days
        with db.atomic():
            channel.save()
            _audit(actor, "channel_changed", f"channel:{channel.id}", changes)
    return changes


def set_channel_active(channel: Channel, active: bool, actor: User) -> bool:
    """Take a channel off the desk's list, or back on; customers keep it either way."""
    if channel.active == active:
        return False
    channel.active = active
    with db.atomic():
        channel.save()
        action = "channel_reactivated" if active else "channel_deactivated"
        _audit(actor, action, f"channel:{channel.id}", {"active": [not active, active]})
    return True


def _channel_fields(name, kind, protection_days):
    problems = {}
    name = (name or "").strip()
    if not name or len(name) > 40:
        problems["name"] = _l("Give the channel a name of at most 40 characters.")
    if kind not in CHANNEL_KINDS:
        problems["kind"] = _l("Choose a kind from the list.")
    if protection_days is not None:
        problems.update(_number(1, 90)(protection_days, "protection_days")[1])
    return name, problems


def _audit(actor: User, action: str, target: str, changes: dict):
    AuditLog.create(
        actor=actor, action=action, target=target, changes=json.dumps(changes, ensure_ascii=False)
    )
