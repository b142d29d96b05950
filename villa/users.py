"""Staff accounts."""

import re

from villa.auth import hash_password
from villa.models import ROLES, AuditLog, User, now

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,39}$")


class UserProblem(ValueError):
    pass


def create_user(username, role, name=None, manager_username=None, password="", must_change=True, actor=None):
    """Create a staff account; the manager must be a manager; usernames are lower-case."""
    username = (username or "").strip().lower()
    if not USERNAME.match(username):
        raise UserProblem("username must be 2-40 characters: a-z, digits, _ . -, starting with a letter")
    if role not in ROLES:
        raise UserProblem(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if User.by_username(username):
        raise UserProblem(f"user {username!r} already exists")
    manager = None
    if manager_username:
        manager = User.by_username(manager_username)
        if manager is None or manager.role != "manager":
            raise UserProblem(f"{manager_username!r} is not a manager")
        if role != "rep":
            raise UserProblem("only reps have a manager")
    user = User.create(
        username=username,
        display_name=(name or username).strip()[:40],
        role=role,
        manager=manager,
        password_hash=hash_password(password),
        must_change_password=must_change,
        password_changed_at=now(),
    )
    AuditLog.create(
        actor=actor, action="user_created", target=f"user:{user.id}", changes=f'{{"role": "{role}"}}'
    )
    return user
