"""Who may log in, and who may open which page."""

import json
from contextlib import suppress
from datetime import timedelta
from functools import wraps
from urllib.parse import urlparse

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, make_response, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from peewee import Case, fn

from villa.broker_accounts import login_refusal
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.models import ROLES, AuditLog, LoginFailure, PasswordHistory, User, now
from villa.passwords import weakness
from villa.pledge import accepted_since, pending_for, pending_pledge_id
from villa.prepared import Prepared, slot

login_manager = LoginManager()
login_manager.session_protection = "basic"
hasher = PasswordHasher()
PASSWORD_MIN_LENGTH = 12
HISTORY_KEPT = 5  # earlier passwords a new one may not repeat (the current one is refused too)
# Verified against when the username is unknown, so the answer takes the same time.
_UNKNOWN_USER_HASH = hasher.hash("villa-no-such-user")


class LoginRefused(Exception):
    def __init__(self, message, status=200):
        super().__init__(str(message))
        self.message = message
        self.status = status


def hash_password(password: str) -> str:
    return hasher.hash(password)


def password_problem(user: User | None, username: str, password: str, display_name: str | None = None):
    """The policy's objection to a new password, or None. Every way of setting a password asks this."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return _l("Use at least 12 characters.")
    if password.strip().lower() == username.strip().lower():
        return _l("The password must not be the username.")
    known = (username, display_name or (user.display_name if user is not None else None))
    weak = weakness(password, known)
    if weak is not None:
        return weak
    if user is not None and check_password(user, password):
        return _l("Choose a password different from the current one.")
    recent = _history(user).limit(HISTORY_KEPT) if user is not None else ()
    if any(_matches(old.password_hash, password) for old in recent):
        return _l("Choose a password you have not used recently (not one of your last 5).")
    return None


def check_password(user: User, password: str) -> bool:
    return _matches(user.password_hash, password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _history(user: User):
    """The user's earlier password hashes, newest first."""
    return PasswordHistory.select().where(PasswordHistory.user == user).order_by(PasswordHistory.id.desc())


def set_password(user: User, password: str, must_change: bool):
    """Store a new password, keeping the old hash in the history; every session of the user ends."""
    with db.atomic():
        if user.id is not None and user.password_hash:
            PasswordHistory.create(user=user, password_hash=user.password_hash)
            stale = [old.id for old in _history(user).offset(HISTORY_KEPT)]
            if stale:
                PasswordHistory.delete().where(PasswordHistory.id.in_(stale)).execute()
        user.password_hash = hash_password(password)
        user.must_change_password = must_change
        user.password_changed_at = now()
        user.session_version += 1
        user.failed_logins = 0
        user.locked_until = None
        user.save()
        # A new password ends any lockout: the failures counted against the account go.
        LoginFailure.delete().where(LoginFailure.username == user.username).execute()


def authenticate(username: str, password: str, ip: str) -> User:
    """Return the user for these credentials, or raise LoginRefused with what to show.

    A known and an unknown username take the same steps: the limits count the username as typed,
    and an unknown one is checked against a dummy hash, so neither the answer nor its time tells
    whether the account exists."""
    typed, ip = (username or "").strip().lower()[:40], (ip or "")[:45]
    recent = _recent_failures(typed, ip)
    user = User.by_username(typed) if typed else None
    _refuse_if_limited(recent)
    matched = check_password(user, password) if user is not None else _verify_dummy(password)
    if user is not None and user.active and matched:
        refusal = login_refusal(user)  # told only to whoever typed the right password
        if refusal is not None:
            raise LoginRefused(refusal, 403)
        if hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now()
        user.save()
        LoginFailure.delete().where(LoginFailure.username == typed, LoginFailure.ip == ip).execute()
        return user
    _record_failure(user, typed, ip, recent)
    _refuse_if_limited(recent, this_one=1)
    raise LoginRefused(_l("Wrong username or password."), 200)


class RecentFailures:
    """Failed logins within the lockout window: from this address, of this username, and both."""

    def __init__(self, from_address: int, of_account: int, of_account_here: int, addresses: int):
        self.from_address = from_address
        self.of_account = of_account
        self.of_account_here = of_account_here
        self.addresses = addresses


def _recent_failures(typed: str, ip: str) -> RecentFailures:
    start = now() - timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
    here, mine = LoginFailure.ip == ip, LoginFailure.username == typed
    counts = (
        LoginFailure.select(
            fn.COUNT(Case(None, [(here, 1)])),
            fn.COUNT(Case(None, [(mine, 1)])),
            fn.COUNT(Case(None, [(here & mine, 1)])),
            fn.COUNT(fn.DISTINCT(Case(None, [(mine, LoginFailure.ip)]))),
        )
        .where(LoginFailure.at > start, here | mine)
        .tuples()
        .get()
    )
    return RecentFailures(*counts)


def _refuse_if_limited(recent: RecentFailures, this_one: int = 0):
    """LoginRefused (429) when a limit is reached, counting `this_one` failure not yet counted."""
    config = current_app.config
    minutes = config["LOCKOUT_MINUTES"]
    if recent.from_address >= config["IP_FAILURES_PER_WINDOW"]:  # earlier failures only
        message = _l("Too many failed logins from this device. Wait %(minutes)d minutes.", minutes=minutes)
    elif recent.of_account + this_one >= config["ACCOUNT_FAILURES_PER_WINDOW"]:
        message = _l(
            "Too many wrong passwords for this account: it is locked for %(minutes)d minutes. "
            "An administrator can unlock it by resetting the password.",
            minutes=minutes,
        )
    elif recent.of_account_here + this_one >= config["LOCKOUT_FAILURES"]:
        message = _l(
            "Too many wrong passwords for this account from this device. Wait %(minutes)d minutes.",
            minutes=minutes,
        )
    else:
        return
    raise LoginRefused(message, 429)


def _verify_dummy(password: str) -> bool:
    with suppress(VerificationError):
        hasher.verify(_UNKNOWN_USER_HASH, password)
    return False


def _record_failure(user: User | None, typed: str, ip: str, recent: RecentFailures):
    """Count the failure; the one that reaches the account's ceiling alerts the audit team.

    One transaction (one commit, one sync to disk) whether the user exists or not."""
    config = current_app.config
    with db.atomic():
        LoginFailure.create(ip=ip, username=typed)
        LoginFailure.delete().where(LoginFailure.at < now() - timedelta(days=1)).execute()
        if user is None:
            return
        user.failed_logins += 1
        ceiling_reached = recent.of_account + 1 >= config["ACCOUNT_FAILURES_PER_WINDOW"]
        if ceiling_reached and not (user.locked_until and user.locked_until > now()):
            # For the users page; the counts decide, for known and unknown usernames alike.
            user.locked_until = now() + timedelta(minutes=config["LOCKOUT_MINUTES"])
            _alert_locked(user, recent)
        user.save()


def _alert_locked(user: User, recent: RecentFailures):
    """An alert for the audit team: an AuditLog row whose action starts with `alert_`."""
    details = {
        "failures": recent.of_account + 1,
        "addresses": recent.addresses + (0 if recent.of_account_here else 1),
        "minutes": current_app.config["LOCKOUT_MINUTES"],
    }
    AuditLog.create(action="alert_account_locked", target=f"user:{user.id}", changes=json.dumps(details))


def end_session(user: User):
    """Log out: this cookie, and every copy of it, stops working."""
    User.end_sessions(user.id)
    logout_user()
    session.clear()


# The session's user, with the pledge version they must still accept (asked before every request).
_user_by_id = Prepared(
    lambda: User.select(User, pending_for(User.id).alias("pending_pledge_id")).where(User.id == slot())
)


@login_manager.user_loader
def _load_user(token: str):
    user_id, _, version = token.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = _user_by_id.first(accepted_since(), int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("account.login", next=request.full_path if request.method == "GET" else None)
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def safe_next(target: str | None) -> str | None:
    """Only our own absolute paths: no scheme, no host, no protocol-relative //."""
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def role_required(*roles):
    """Let in logged-in users with one of these roles; others get 403, anonymous the login page."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def login_required(view):
    return role_required(*ROLES)(view)


def enforce_session_rules():
    """Before each request: idle timeout and overdue password changes."""
    if not current_user.is_authenticated:
        return None
    idle = timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])
    seen = session.get("seen")
    stamp = now().timestamp()
    if seen is not None and stamp - seen > idle.total_seconds():
        logout_user()
        session.clear()
        session["idle_logout"] = True
        return login_manager.unauthorized()
    if seen is None or stamp - seen > 30:
        session["seen"] = stamp
    if request.endpoint in ("account.change_password", "account.logout", "static", "health.healthz"):
        return None
    max_age = timedelta(days=current_app.config["PASSWORD_MAX_AGE_DAYS"])
    if current_user.must_change_password or current_user.password_changed_at < now() - max_age:
        return _send_to("account.change_password")
    # The confidentiality pledge next: its page, the language switch and logging out stay open.
    if current_user.role == "broker":  # an agency's broker: the office's staff pledge is not theirs
        return None
    if request.endpoint not in PLEDGE_OPEN and pending_pledge_id(current_user) is not None:
        return _send_to("account.pledge", next=request.full_path if request.method == "GET" else None)
    return None


PLEDGE_OPEN = {"account.pledge", "account.switch_language", "health.ready", "health.metrics"}
# What a broker's account opens besides its own blueprint (villa.web.broker).
BROKER_OPEN = {
    "account.login",
    "account.logout",
    "account.change_password",
    "account.switch_language",
    "static",
    "health.healthz",
    "health.ready",
    "health.metrics",
}


def keep_brokers_out():
    """Before each request: a broker's account reaches its 报备 pages and its account, nothing else.
    Home is their 报备 list; any other page is a 403, logged."""
    if not current_user.is_authenticated or current_user.role != "broker":
        return None
    endpoint = request.endpoint or ""
    if endpoint.startswith("broker.") or endpoint in BROKER_OPEN:
        return None
    if endpoint == "home.index":
        return redirect(url_for("broker.reports"))
    with db.atomic():
        AuditLog.create(
            actor=current_user.id,
            action="broker_page_refused",
            target=f"user:{current_user.id}",
            changes=json.dumps({"path": request.path[:200]}),
        )
    abort(403)


def _send_to(endpoint: str, **values):
    """A redirect to a page the user must see first; htmx gets 401 with HX-Redirect instead."""
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for(endpoint, **values)
        return response
    return redirect(url_for(endpoint, **values))
