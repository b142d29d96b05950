"""Staff accounts in the admin: create, change, disable, reset; the password policy everywhere."""

import pytest

from villa.auth import check_password, set_password
from villa.models import ROLES, AuditLog, PasswordHistory, User

from .conftest import PASSWORD

TEMPORARY = "temporary-pass-2026"


@pytest.fixture
def admin(login_as):
    session = login_as("admin", username="boss")
    session.get("/lang/en")
    return session


def new_user(**changes):
    values = {"username": "lina", "display_name": "李娜", "role": "rep", "manager": "", "password": TEMPORARY}
    values.update(changes)
    return values


def audit(action):
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def change_own_password(session, current, new):
    return session.post("/account/password", {"current": current, "new": new, "confirm": new})


def test_admin_creates_a_rep_who_must_choose_a_password_at_first_login(admin, make_user, login):
    boss = make_user("manager", username="wang", display_name="王经理")
    response = admin.post("/admin/users", new_user(manager="wang"))
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"
    rep = User.by_username("lina")
    assert (rep.role, rep.display_name, rep.manager_id, rep.must_change_password) == (
        "rep",
        "李娜",
        boss.id,
        True,
    )
    assert check_password(rep, TEMPORARY)
    entry = audit("user_created")[-1]
    assert entry.target == f"user:{rep.id}" and entry.actor_id == admin.user.id
    assert entry.change_map == {"role": "rep", "manager": "wang"}

    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'data-testid="user-lina"' in page and "王经理" in page

    session = login(rep, password=TEMPORARY)
    response = session.get("/customers/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    assert change_own_password(session, TEMPORARY, "my-own-secret-99").status_code == 303
    assert session.get("/customers/").status_code == 200


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"password": "elevenchars"}, "password", "at least 12 characters"),
        ({"username": "longusername", "password": "LongUserName"}, "password", "must not be the username"),
        ({"username": "9lives"}, "username", "starting with a letter"),
        ({"username": "boss"}, "username", "taken"),
        ({"role": "manager", "manager": "wang"}, "manager", "Only sales reps have a manager"),
        ({"display_name": ""}, "display_name", "Enter the person"),
    ],
)
def test_refused_user_is_422_at_the_field(admin, make_user, changes, field, message):
    make_user("manager", username="wang")
    before = User.select().count()
    response = admin.post("/admin/users", new_user(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html and message in html
    assert User.select().count() == before
    assert audit("user_created") == []


def test_password_policy_at_the_users_own_change(make_user, login):
    user = make_user("rep", username="lina")
    session = login(user)
    session.get("/lang/en")
    refused = {
        "short-pass1": "at least 12 characters",
        PASSWORD: "different from the current one",
    }
    for password, message in refused.items():
        response = change_own_password(session, PASSWORD, password)
        assert response.status_code == 422 and message in response.get_data(as_text=True)

    # Five changes: the original and four more are now the five earlier passwords.
    history = [PASSWORD] + [f"password-number-{n}" for n in range(1, 6)]
    for password in history[1:]:
        set_password(User.get_by_id(user.id), password, must_change=False)
    session = login(User.get_by_id(user.id), password=history[-1])
    session.get("/lang/en")
    assert PasswordHistory.select().where(PasswordHistory.user == user).count() == 5
    for old in history[:-1]:
        response = change_own_password(session, history[-1], old)
        assert response.status_code == 422
        assert "not one of your last 5" in response.get_data(as_text=True)
    assert check_password(User.get_by_id(user.id), history[-1])

    # One more change pushes the original out: six changes old, it may come back.
    assert change_own_password(session, history[-1], "password-number-6").status_code == 303
    assert PasswordHistory.select().where(PasswordHistory.user == user).count() == 5
    assert change_own_password(session, "password-number-6", PASSWORD).status_code == 303
    assert check_password(User.get_by_id(user.id), PASSWORD)


def test_cli_create_applies_the_policy(runner):
    result = runner.invoke(
        args=["user", "create", "lina", "--role", "rep", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and User.by_username("lina") is None
    result = runner.invoke(
        args=["user", "create", "lina", "--role", "rep", "--password-stdin"], input="long-enough-secret\n"
    )
    assert result.exit_code == 0
    assert User.by_username("lina").must_change_password is False


def test_disable_ends_sessions_and_blocks_login(admin, make_user, login):
    user = make_user("rep", username="lina")
    rep = login(user)
    assert rep.get("/customers/").status_code == 200
    response = admin.post(f"/admin/users/{user.id}/disable")
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/users/{user.id}"
    refreshed = User.get_by_id(user.id)
    assert refreshed.active is False and refreshed.session_version == user.session_version + 1
    response = rep.get("/customers/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert rep.post("/login", {"username": "lina", "password": PASSWORD}).status_code != 303
    assert audit("user_disabled")[-1].change_map == {"active": [True, False]}

    assert admin.post(f"/admin/users/{user.id}/enable").status_code == 303
    assert User.get_by_id(user.id).active is True
    assert audit("user_enabled")[-1].target == f"user:{user.id}"
    login(User.get_by_id(user.id))  # logs in again


def test_reset_password_forces_a_change_and_ends_sessions(admin, make_user, login):
    user = make_user("rep", username="lina")
    rep = login(user)
    response = admin.post(f"/admin/users/{user.id}/password", {"password": TEMPORARY})
    assert response.status_code == 303
    reset = User.get_by_id(user.id)
    assert reset.must_change_password is True and check_password(reset, TEMPORARY)
    assert rep.get("/customers/").headers["Location"].startswith("/login")
    fresh = login(reset, password=TEMPORARY)
    assert fresh.get("/customers/").headers["Location"] == "/account/password"
    assert audit("password_reset")[-1].change_map == {"must_change_password": True}


@pytest.mark.parametrize(
    "password,message", [("short-one", "at least 12"), (PASSWORD, "different from the current")]
)
def test_reset_password_follows_the_policy(admin, make_user, password, message):
    user = make_user("rep", username="lina")
    response = admin.post(f"/admin/users/{user.id}/password", {"password": password})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="error-password"' in html and message in html
    assert check_password(User.get_by_id(user.id), PASSWORD)
    assert audit("password_reset") == []


def test_audit_rows_hold_no_password_material(admin, make_user):
    make_user("manager", username="wang")
    admin.post("/admin/users", new_user(manager="wang"))
    user = User.by_username("lina")
    admin.post(f"/admin/users/{user.id}/password", {"password": "another-temp-pass"})
    admin.post(f"/admin/users/{user.id}/disable")
    secrets = [TEMPORARY, "another-temp-pass", User.get_by_id(user.id).password_hash]
    secrets += [old.password_hash for old in PasswordHistory.select()]
    rows = AuditLog.select().where(AuditLog.target == f"user:{user.id}")
    assert {row.action for row in rows} == {"user_created", "password_reset", "user_disabled"}
    for row in rows:
        assert not any(secret in row.changes for secret in secrets)
        assert "$argon2" not in row.changes and "password_hash" not in row.changes


def test_change_role_and_team(admin, make_user):
    first, second = make_user("manager", username="wang"), make_user("manager", username="zhao")
    rep = make_user("rep", username="lina", manager=first)
    edit = {"display_name": "李娜娜", "role": "rep", "manager": "zhao"}
    assert admin.post(f"/admin/users/{rep.id}", edit).status_code == 303
    changed = User.get_by_id(rep.id)
    assert (changed.display_name, changed.manager_id) == ("李娜娜", second.id)
    entry = audit("user_changed")[-1]
    assert entry.change_map == {"display_name": ["rep 测试", "李娜娜"], "manager": ["wang", "zhao"]}

    # Promoted to manager: a manager has no manager.
    assert admin.post(f"/admin/users/{rep.id}", {**edit, "role": "manager", "manager": ""}).status_code == 303
    promoted = User.get_by_id(rep.id)
    assert (promoted.role, promoted.manager_id) == ("manager", None)
    assert audit("user_changed")[-1].change_map == {"role": ["rep", "manager"], "manager": ["zhao", None]}

    # A manager who still leads reps keeps the role until the team moves.
    make_user("rep", manager=first)
    response = admin.post(f"/admin/users/{first.id}", {"display_name": "王", "role": "rep", "manager": ""})
    assert response.status_code == 422 and "still leads 1 reps" in response.get_data(as_text=True)
    assert User.get_by_id(first.id).role == "manager"


def test_admin_cannot_disable_or_demote_themselves(admin):
    me = admin.user
    response = admin.post(f"/admin/users/{me.id}/disable")
    assert response.status_code == 422
    assert "cannot disable your own account" in response.get_data(as_text=True)
    response = admin.post(f"/admin/users/{me.id}", {"display_name": "老板", "role": "manager", "manager": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="error-role"' in html and "your own admin role" in html
    refreshed = User.get_by_id(me.id)
    assert (refreshed.active, refreshed.role) == (True, "admin")
    assert audit("user_disabled") == [] and audit("user_changed") == []
    assert admin.get("/admin/users").status_code == 200, "still logged in"


def test_another_admin_may_be_disabled(admin, make_user):
    other = make_user("admin")
    assert admin.post(f"/admin/users/{other.id}/disable").status_code == 303
    assert User.get_by_id(other.id).active is False


def test_unknown_user_is_404(admin):
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.post("/admin/users/999999/disable").status_code == 404


USER_ROUTES = [
    ("get", "/admin/users"),
    ("post", "/admin/users"),
    ("get", "/admin/users/{id}"),
    ("post", "/admin/users/{id}"),
    ("post", "/admin/users/{id}/password"),
    ("post", "/admin/users/{id}/disable"),
    ("post", "/admin/users/{id}/enable"),
]


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
@pytest.mark.parametrize("method,path", USER_ROUTES)
def test_only_admins_manage_users(login_as, make_user, role, method, path):
    target = make_user("rep", username="lina")
    session = login_as(role)
    url = path.format(id=target.id)
    data = {**new_user(username="mallory"), "password": "mallory-password-1"}
    response = session.get(url) if method == "get" else session.post(url, data)
    assert response.status_code == 403
    unchanged = User.get_by_id(target.id)
    assert unchanged.active and check_password(unchanged, PASSWORD) and unchanged.display_name == "rep 测试"
    assert User.by_username("mallory") is None


def test_admin_home_lists_users_and_settings(admin):
    page = admin.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/settings"' in page


def test_the_admin_page_does_not_make_a_broker_account_without_a_broker(admin):
    """A broker's login needs its broker and agency (the command line makes both); the admin's form
    offers no broker role, and a forged one is refused at the field, nothing written."""
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'value="broker"' not in page and "--role broker --agency" in page
    response = admin.post("/admin/users", new_user(role="broker"))
    assert response.status_code == 422 and 'data-testid="error-role"' in response.get_data(as_text=True)
    assert User.by_username("lina") is None
