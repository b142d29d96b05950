"""Setting up an instance: key file, schema, default channels, the key check, private file modes."""

import os
import stat
from pathlib import Path

from flask import current_app

from villa import crypto
from villa.db import db, is_sqlite, migrate
from villa.models import Channel, Setting

KEY_CHECK = "villa key check"

# Channels are office data that admins rename later, so their names are stored in Chinese.
# (code, name, kind)
DEFAULT_CHANNELS = (
    ("walk_in", "自然到访", "direct"),
    ("online_ad", "网络广告", "online"),
    ("offline_event", "线下活动", "event"),
    ("referral", "朋友推荐", "referral"),
    ("broker", "中介渠道", "broker"),
    ("old_owner", "老业主推荐", "referral"),
)

DEFAULT_SETTINGS = {
    "protection_days_visit": 15,
    "protection_days_call": 7,
    "pool_quota": 20,
    # Protection policy (villa.ownership): what a reached follow-up renews ("full": the channel's
    # period, "short": protection_days_short, "none"), the most protection one owner gets in all
    # (then only a deal stage keeps the customer), the cap of protected customers per rep, and how
    # long a rep who let a customer lapse waits before taking it back from the pool.
    "protection_renewal": {
        "visit": "full",
        "viewing": "full",
        "call": "short",
        "wechat": "short",
        "sms": "short",
    },
    "protection_days_short": 7,
    "protection_max_days": 90,
    "protected_customers_cap": 200,
    "pool_cooldown_days": 30,
    "privacy_notice_version": "2026-11",
    # 购房资格: a local household may own this many homes before buying; a non-local one needs
    # these months of local social insurance or income tax (in the last 5 years) and may own fewer.
    "eligibility_rules": {
        "local_max_homes_owned": 1,
        "nonlocal_min_months": 60,
        "nonlocal_max_homes_owned": 0,
    },
    # Two-level review (审核): the reasons reviewers pick from, and the checklist they apply.
    "rejection_reasons": [
        "联系电话无法接通或不是本人",
        "客户姓名与证件不符",
        "来源渠道登记有误",
        "购房需求信息不完整",
        "疑似重复登记",
        "未取得客户同意",
    ],
    # What the customer is told for each reason: never the internal reason itself (villa.messaging).
    "rejection_customer_texts": {
        "联系电话无法接通或不是本人": "请确认您登记的联系电话",
        "客户姓名与证件不符": "请核对您登记的姓名与证件信息",
        "来源渠道登记有误": "请与您的置业顾问核对登记信息",
        "购房需求信息不完整": "请补充您的购房需求（户型、面积、预算）",
        "疑似重复登记": "请与您的置业顾问核对登记信息",
        "未取得客户同意": "请确认您同意本售楼处的个人信息保护说明",
    },
    # ... and for a reason that has no text of its own (typed by the reviewer, or added later).
    "rejection_customer_default": "请联系您的置业顾问",
    "review_checklist": [
        "姓名、电话与客户本人一致",
        "来源渠道与到访情况相符（中介渠道须有报备）",
        "证件号码仅在客户单独同意后登记",
        "购房需求（户型、面积、预算）已填写",
        "购房资格信息已询问",
        "无重复登记",
    ],
    # Messages to the customer: SMS length, no personal data beyond the name.
    "message_templates": {
        "rejection": "{name}您好，您在本项目售楼处的登记信息需要补充：{reason}。置业顾问会尽快与您联系。",
        "approval": "{name}您好，您在本项目售楼处的登记已完成审核，感谢您的关注。",
    },
    "notify_on_approval": False,
    # Retention (PIPL): inactive, unsigned customers are anonymised after this many years.
    "retention_years": 3,
    # Backups (villa.backup.keeping): the newest backup of each of the last N days, weeks and months.
    "backups_daily": 14,
    "backups_weekly": 8,
    "backups_monthly": 12,
    # A second folder each backup is copied to (a mounted NAS or USB disk); "" for none.
    # VILLA_BACKUP_COPY_DIR, when set, is used instead.
    "backup_copy_dir": "",
    # The admin home and /healthz/ready warn when the newest backup is older than this.
    "backup_age_limit_hours": 26,
    # `villa daily` tests a restore of the newest backup on this weekday (0 Monday ... 6 Sunday), and
    # whenever the last good restore test is more than 7 days old.
    "restore_test_weekday": 6,
    # The notice to each customer an incident affected ({name}: the customer's name).
    "incident_message_template": (
        "{name}您好：本售楼处发现一起客户信息安全事件，您登记的姓名和联系电话可能被未经授权的人员查看。"
        "我们深表歉意，已采取补救措施并报告主管部门。请警惕以购房、退款等名义索要验证码或要求转账的电话和短信；"
        "如有疑问，请致电售楼处。"
    ),
    "correction_link_hours": 48,
    # Exact phone and ID lookups (list search, the desk's duplicate check, the export filter): how
    # many different complete numbers one user may look up; typing a number never counts.
    # 报备 (villa.reports): days a broker has to bring the customer (to the end of that office day),
    # and how many 报备 one broker account may send in an hour (an address: three times as many).
    "report_valid_days": 3,
    "report_limit_per_hour": 20,
    "lookup_limit_per_minute": 30,
    "lookup_limit_per_day": 300,
    # How much of a number the masked form shows: "standard" 138****8000, 1101**********733X;
    # "last_four" *******8000, **************733X. The last four stay visible either way.
    "masked_phone": "standard",
    "masked_id_number": "standard",
    # The audit team is alerted when one user's reveals, lookups or exports in an office day pass these.
    "alert_reveals_per_day": 100,
    "alert_lookups_per_day": 100,
    "alert_exports_per_day": 20,
    # Staff notifications by email (villa.notify): the office's mail server. The password is kept
    # apart, encrypted (villa.settings SECRET_KEYS); an empty host means email is not set up.
    "smtp": {"host": "", "port": 587, "security": "starttls", "username": "", "sender": ""},
}


def initialise(keys_file: str) -> list[str]:
    """Create what is missing: key file, schema, key check, channels, settings. Idempotent."""
    if not Path(keys_file).exists():
        if _has_schema() and Setting.read("key_check"):
            raise crypto.KeyFileError(
                f"key file {keys_file} is missing but the database holds encrypted data: "
                "restore the key file; a new one could not read that data"
            )
        crypto.keys.ring = crypto.KeyRing.create(keys_file)
    else:
        crypto.load_keys(keys_file)
        crypto.keyring()
    applied = migrate()
    with db.connection_context(), db.atomic():
        if Setting.read("key_check") is None:
            write_key_check()
        verify_keys()
        seed_defaults()
    make_private(Path(current_app.config["INSTANCE_PATH"]))
    return applied


def make_private(instance: Path):
    """The instance folder, everything in it and the SQLite files: the owner's alone (0700/0600).

    Files written before villa set its umask (or copied in since) may be readable by every user
    of the machine; the database file holds the encrypted data and its blind indexes."""
    paths = [instance]
    for folder, subfolders, files in os.walk(instance):
        paths += [Path(folder, name) for name in (*subfolders, *files)]
    if is_sqlite():
        database = Path(db.database)
        paths += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    for path in paths:
        if path.is_symlink():
            continue
        try:  # the WAL and -shm come and go while other processes use the database
            mode = path.stat().st_mode
            private = 0o700 if stat.S_ISDIR(mode) else 0o600
            if stat.S_IMODE(mode) != private:
                path.chmod(private)
        except FileNotFoundError:
            continue


def write_key_check():
    ring = crypto.keyring()
    Setting.write(
        "key_check",
        {
            "sealed": ring.encrypt(KEY_CHECK, b"key_check").hex(),
            "index": ring.blind_index("check", KEY_CHECK),
        },
    )


def verify_keys():
    """Raise KeyFileError unless the loaded key file is the one this database was written with."""
    check = Setting.read("key_check")
    if check is None:
        return
    ring = crypto.keyring()
    # The previous index key counts while a rotation runs: it may have stopped before the check
    # was written again.
    if check["index"] not in ring.blind_indexes("check", KEY_CHECK):
        raise crypto.KeyFileError(
            f"key file {ring.path} does not belong to this database (blind-index key differs)"
        )
    if ring.decrypt(bytes.fromhex(check["sealed"]), b"key_check") != KEY_CHECK:
        raise crypto.KeyFileError(f"key file {ring.path} does not belong to this database")


def seed_defaults():
    for order, (code, name, kind) in enumerate(DEFAULT_CHANNELS):
        if not Channel.select().where(Channel.code == code).exists():
            Channel.create(code=code, name=name, kind=kind, sort_order=order)
    for key, value in DEFAULT_SETTINGS.items():
        if Setting.read(key) is None:
            Setting.write(key, value)


def check_startup(keys_file: str):
    """On start: a database that holds encrypted data needs its own key file."""
    with db.connection_context():
        if not _has_schema():
            return
        if Setting.read("key_check") is None:
            return
        if crypto.keys.ring is None:
            raise crypto.KeyFileError(
                f"{crypto.keys.error}. The database holds encrypted data: restore its key file "
                "(a new key file could not read that data)"
            )
        verify_keys()


def _has_schema() -> bool:
    with db.connection_context():
        return Setting.table_exists()
