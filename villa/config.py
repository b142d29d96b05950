"""Configuration read from the environment, with safe defaults for one machine."""

import os
import secrets
from pathlib import Path

from villa.clock import OFFICE_TZ_NAME

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _instance_path() -> Path:
    return Path(os.environ.get("VILLA_INSTANCE", "instance")).resolve()


def _secret_key(instance: Path) -> str:
    """Use VILLA_SECRET_KEY, else a key generated once into the instance folder."""
    if os.environ.get("VILLA_SECRET_KEY"):
        return os.environ["VILLA_SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class ConfigError(ValueError):
    """An environment variable that cannot be used as it is."""


def _whole_number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


class Config:
    """Settings for a running villa; tests pass a mapping that overrides any of them."""

    def __init__(self, **overrides):
        instance = Path(overrides.pop("INSTANCE_PATH", None) or _instance_path())
        self.INSTANCE_PATH = str(instance)
        self.DATABASE_URL = os.environ.get("VILLA_DATABASE_URL") or f"sqlite:///{instance / 'villa.db'}"
        self.KEYS_FILE = os.environ.get("VILLA_KEYS_FILE") or str(instance / "keys.json")
        self.BACKUP_DIR = os.environ.get("VILLA_BACKUP_DIR") or str(instance / "backups")
        # A second folder for each backup (a mounted NAS or USB disk); else the admin's setting.
        self.BACKUP_COPY_DIR = os.environ.get("VILLA_BACKUP_COPY_DIR", "")
        # GET /metrics answers only with `Authorization: Bearer <this>`; unset, /metrics is a 404.
        self.METRICS_TOKEN = os.environ.get("VILLA_METRICS_TOKEN", "")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Behind HTTPS (the production proxy) the cookie must never travel in clear.
        self.SESSION_COOKIE_SECURE = os.environ.get("VILLA_HTTPS", "") == "1"
        self.SESSION_COOKIE_NAME = "villa_session"
        self.PERMANENT_SESSION_LIFETIME = 12 * 3600
        self.IDLE_TIMEOUT_MINUTES = _whole_number("VILLA_IDLE_MINUTES", 30)
        self.PASSWORD_MAX_AGE_DAYS = 90
        # Failed logins, counted over the last LOCKOUT_MINUTES: of one account from one address
        # (that account is then refused from that address), of one account from anywhere (then
        # refused everywhere, and the audit team is alerted), and of one address for any account.
        self.LOCKOUT_MINUTES = 15
        self.LOCKOUT_FAILURES = 5
        self.ACCOUNT_FAILURES_PER_WINDOW = _whole_number("VILLA_ACCOUNT_FAILURES", 50)
        self.IP_FAILURES_PER_WINDOW = _whole_number("VILLA_IP_FAILURES", 30)
        # How many reverse proxies in front set X-Forwarded-For/-Proto; 0: the headers are ignored.
        self.TRUSTED_PROXIES = _whole_number("VILLA_TRUSTED_PROXIES", 0)
        self.WTF_CSRF_TIME_LIMIT = None  # tied to the session instead; tablets stay open all day
        self.WTF_CSRF_SSL_STRICT = False  # SameSite=Lax plus the token already bind the request
        self.BABEL_DEFAULT_LOCALE = "zh_Hans"
        self.BABEL_DEFAULT_TIMEZONE = OFFICE_TZ_NAME
        self.LANGUAGES = ("zh_Hans", "en")
        self.MAX_CONTENT_LENGTH = 16 * 1024 * 1024
        self.SMS_GATEWAY = os.environ.get("VILLA_SMS_GATEWAY", "")  # "module:Class"; empty: by hand
        self.TESTING = False
        for key, value in overrides.items():
            setattr(self, key, value)
        if not getattr(self, "SECRET_KEY", None):
            self.SECRET_KEY = _secret_key(instance)
