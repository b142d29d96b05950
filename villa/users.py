"""Staff accounts: an admin creates, changes, disables and resets them; none is ever deleted,
so the history keeps every name. Audit rows never hold a password or its hash."""

import json
import re

from peewee import IntegrityError

from villa.auth import hash_password, password_problem, set_password
from villa.broker_accounts import add_broker_account
from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.models import ROLES, AuditLog, User, now

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,39}$")


class UserProblem(ValueError):
    """A refused account change; `field` names the form field the message belongs to."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def create_user(
    username, role, name=None, manager_username=None, password="", must_change=True, actor=None, agency=None
):
    """Create a staff account; the manager must be a manager; usernames are lower-case.

    The messages are the command line's (English, for operators); the admin form checks the same
    things first, in the user's language."""
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise UserProblem(
            "username must be 2-40 characters: a-z, digits, _ . -, starting with a letter", "username"
        )
    if role not in ROLES:
        raise UserProblem(f"unknown role {role!r}; use one of {', '.join(ROLES)}", "role")
    if User.by_username(username):
        raise UserProblem(f"user {username!r} already exists", "username")
    manager = None
    if manager_username:
        manager = User.by_username(manager_username)
        if manager is None or manager.role != "manager":
            raise UserProblem(f"{manager_username!r} is not a manager", "manager")
        if role != "rep":
            raise UserProblem("only reps have a manager", "manager")
    if role == "broker" and not (agency or "").strip():
        raise UserProblem("a broker needs an agency", "agency")
    if len((agency or "").strip()) > 60:
        raise UserProblem("an agency name has at most 60 characters", "agency")
    problem = password_problem(None, username, password, display_name=name)
    if problem:
        raise UserProblem(problem, "password")
    try:
        with db.atomic():
            user = User.create(
                username=username,
                display_name=(name or username).strip()[:40],
                role=role,
                manager=manager,
                password_hash=hash_password(password),
                must_change_password=must_change,
                password_changed_at=now(),
            )
            details = {"role": role, "manager": manager.username if manager else None}
            if role == "broker":  # a broker's login comes with its Broker record (villa.reports)
                details["agency"] = add_broker_account(user, agency).agency.name
            _audit(actor, "user_created", user, details)
    except IntegrityError:
        raise UserProblem(f"user {username!r} already exists", "username") from None
    return user


def change_user(user: User, actor: User, display_name: str, role: str, manager: User | None) -> dict:
    """Apply an admin's edit of name, role and team; returns {field: [old, new]} as audited."""
    if role not in ROLES:
        raise UserProblem(_l("Choose a role from the list."), "role")
    if user.id == actor.id and user.role == "admin" and role != "admin":
        raise UserProblem(_l("You cannot remove your own admin role."), "role")
    if role != "rep":
        manager = None
    elif manager is not None and (manager.role != "manager" or not manager.active):
        raise UserProblem(_l("Choose an active sales manager."), "manager")
    if user.role == "manager" and role != "manager":
        team = User.select().where(User.manager == user, User.active == True).count()  # noqa: E712
        if team:
            raise UserProblem(
                _l(
                    "This manager still leads %(count)d reps: move them to another manager first.", count=team
                ),
                "role",
            )
    old_manager = user.manager.username if user.manager_id else None
    changes = {}
    for field, old, new in (
        ("display_name", user.display_name, display_name.strip()[:40]),
        ("role", user.role, role),
        ("manager", old_manager, manager.username if manager else None),
    ):
        if old != new:
            changes[field] = [old, new]
    if changes:
        user.display_name, user.role, user.manager = display_name.strip()[:40], role, manager
        with db.atomic():
            user.save()
            _audit(actor, "user_changed", user, changes)
    return changes


def set_active(user: User, active: bool, actor: User | None) -> bool:
    """Disable or enable an account; disabling ends every session at once. True when it changed.

    `actor` is None when the operator runs it from the command line.
    """
    if not active and actor is not None and user.id == actor.id:
        raise UserProblem(_l("You cannot disable your own account."), "active")
    if user.active == active:
        return False
    update = {User.active: active}
    if not active:
        update[User.session_version] = User.session_version + 1
    with db.atomic():
        User.update(update).where(User.id == user.id).execute()
        _audit(actor, "user_enabled" if active else "user_disabled", user, {"active": [not active, active]})
    user.active = active
    return True


def reset_password(user: User, password: str, actor: User):
    """Set a temporary password the user must change at the next login; their sessions end."""
    if user.id == actor.id:
        raise UserProblem(_l("Change your own password on your account page."), "password")
    problem = password_problem(user, user.username, password)
    if problem:
        raise UserProblem(problem, "password")
    with db.atomic():
        set_password(user, password, must_change=True)
        _audit(actor, "password_reset", user, {"must_change_password": True})


def _audit(actor, action: str, user: User, changes: dict):
    AuditLog.create(
        actor=actor, action=action, target=f"user:{user.id}", changes=json.dumps(changes, ensure_ascii=False)
    )
