"""The bell and the inbox, each rep's choices, the channel settings (refused at the field, tested before
they are kept), the admin's queue, and the demo's inbox."""

import json
import re
from datetime import timedelta

import pytest

from villa import crypto
from villa import settings as office
from villa.clock import now
from villa.demo import DEMO_PASSWORD, load_demo
from villa.keys import rotate_data_key
from villa.models import (
    AuditLog,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    SecretSetting,
    User,
)
from villa.notify.messages import notify
from villa.notify.outbox import send_due
from villa.notify.preferences import save_preferences, team_robot_key

from . import notify_servers, test_demo
from .conftest import Session, raw_column
from .notify_servers import SMTP_PASSWORD, smtp_settings

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
mailbox, robot = notify_servers.mailbox, notify_servers.robot  # the local servers (fixtures)
demo_app = test_demo.demo_app  # a fresh instance for the demo (a fixture)
VISIT = {"name": "王**", "visit": "visit", "at": "2026-11-05T02:30"}


def visits_for(rep, count=1):
    return [notify(rep, "return_visit", f"visit:{rep.id}:{n}", VISIT) for n in range(count)]


def box_checked(page: str, name: str) -> bool:
    tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', page).group(0)
    return " checked" in tag


def bell(session) -> str:
    response = session.htmx_get("/notifications/bell")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# The bell and the inbox


def test_every_page_loads_the_bell_after_itself_and_it_counts_the_unread(make_user, login):
    rep = make_user("rep")
    visits_for(rep, 2)
    session = login(rep)
    home = session.get("/").get_data(as_text=True)
    assert 'hx-get="/notifications/bell" hx-trigger="load"' in home
    assert 'href="/notifications/"' in home  # the inbox in the account menu, unread or not
    fragment = bell(session)
    assert "<html" not in fragment and 'data-testid="bell-count">2<' in fragment
    assert 'href="/notifications/"' in fragment


def test_nothing_unread_leaves_no_bell_in_the_top_bar(make_user, login):
    idle = bell(login(make_user("manager")))
    assert 'data-testid="bell-idle"' in idle and 'data-testid="bell"' not in idle


def test_the_login_page_has_no_bell(client):
    assert 'hx-get="/notifications/bell"' not in client.get("/login").get_data(as_text=True)


def test_the_inbox_shows_newest_first_and_marks_read(make_user, login):
    rep = make_user("rep")
    older, newer = visits_for(rep, 2)
    session = login(rep)
    page = session.get("/notifications/").get_data(as_text=True)
    assert page.index(f"notification-{newer.id}") < page.index(f"notification-{older.id}")
    assert "您的客户 王** 再次来到售楼处（11-05 10:30）" in page

    response = session.post(f"/notifications/{newer.id}/read", htmx=True)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "notifications-read"
    assert 'data-testid="mark-read"' not in response.get_data(as_text=True)
    assert Notification.get_by_id(newer.id).read_at is not None
    assert Notification.get_by_id(older.id).read_at is None
    assert 'data-testid="bell-count">1<' in bell(session)

    assert session.post("/notifications/read").status_code == 303
    assert Notification.select().where(Notification.read_at.is_null()).count() == 0
    assert 'data-testid="bell-count"' not in bell(session)
    assert 'data-testid="mark-all-read"' not in session.get("/notifications/").get_data(as_text=True)


def test_nobody_reads_or_marks_another_users_notifications(make_user, login):
    owner, other = make_user("rep"), make_user("rep")
    (note,) = visits_for(owner)
    session = login(other)
    assert session.post(f"/notifications/{note.id}/read", htmx=True).status_code == 404
    assert Notification.get_by_id(note.id).read_at is None
    assert f"notification-{note.id}" not in session.get("/notifications/").get_data(as_text=True)


def test_the_inbox_pages_back_through_older_notifications(make_user, login):
    rep = make_user("rep")
    notes = visits_for(rep, 32)
    session = login(rep)
    first = session.get("/notifications/").get_data(as_text=True)
    assert f"notification-{notes[-1].id}" in first and f'notification-{notes[0].id}"' not in first
    older = session.get(f"/notifications/?before={notes[2].id}").get_data(as_text=True)
    assert f'notification-{notes[0].id}"' in older and 'data-testid="older"' not in older


@pytest.mark.parametrize("role", ["reception", "manager", "auditor", "admin"])
def test_every_staff_role_has_an_inbox(login_as, role):
    session = login_as(role)
    assert session.get("/notifications/").status_code == 200
    assert 'data-testid="inbox-empty"' in session.get("/notifications/").get_data(as_text=True)


# Where my reminders go


def test_a_rep_chooses_where_reminders_go(make_user, login, mailbox):
    office.save(smtp_settings(mailbox.port), make_user("admin"))
    rep = make_user("rep")
    session = login(rep)
    page = session.get("/notifications/preferences").get_data(as_text=True)
    assert 'name="digest_email"' in page and 'name="return_visit_wecom"' in page
    assert 'href="/notifications/preferences"' in session.get("/").get_data(as_text=True)  # account menu
    response = session.post(
        "/notifications/preferences",
        {"email": "li.na@example.com", "digest_email": "y", "return_visit_email": "y"},
    )
    assert response.status_code == 303
    kept = NotificationPreference.get(NotificationPreference.user == rep.id)
    assert (kept.email, kept.choice_map["digest"], kept.choice_map["return_visit"]) == (
        "li.na@example.com", ["email"], ["email"])  # fmt: skip
    audit = AuditLog.get(AuditLog.action == "notification_preferences")
    assert "li.na@example.com" not in audit.changes and json.loads(audit.changes)["email"] == "changed"
    page = session.get("/notifications/preferences").get_data(as_text=True)
    assert box_checked(page, "digest_email") and not box_checked(page, "digest_wecom")


@pytest.mark.parametrize(
    ("smtp", "posted", "field", "message"),
    [
        (True, {"digest_email": "y"}, "email", "要通过邮件接收提醒，请填写您的邮箱地址。"),
        (True, {"email": "not-an-address", "digest_email": "y"}, "email", "请填写邮箱地址"),
        (False, {"email": "li.na@example.com", "digest_email": "y"}, "digest_email", "邮件尚未设置"),
        (True, {"return_visit_wecom": "y"}, "return_visit_wecom", "还没有设置企业微信群机器人"),
        (True, {"wecom_user_id": "李 娜"}, "wecom_user_id", "只能包含字母"),
    ],
)
def test_choices_that_cannot_reach_the_rep_are_refused_at_the_field(make_user, login, smtp, posted, field,
                                                                     message):  # fmt: skip
    if smtp:
        office.save(smtp_settings(2525), make_user("admin"))
    rep = make_user("rep")
    response = login(rep).post("/notifications/preferences", posted)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in page and message in page
    if "email" in posted:
        assert f'value="{posted["email"]}"' in page  # what was typed stays
    assert NotificationPreference.select().count() == 0


def test_other_roles_have_no_reminder_choices(login_as):
    assert login_as("reception").get("/notifications/preferences").status_code == 403
    assert login_as("auditor").post("/notifications/preferences", {}).status_code == 403
    assert 'href="/notifications/preferences"' not in login_as("admin").get("/").get_data(as_text=True)


def test_a_manager_sets_their_teams_group_robot_after_a_test_message(make_user, login, robot):
    manager = make_user("manager")
    session = login(manager)
    page = session.get("/notifications/preferences").get_data(as_text=True)
    assert 'data-testid="team-robot"' in page and 'name="digest_email"' not in page
    robot.status = 500
    refused = session.post("/notifications/team-robot/test", {"wecom_webhook": robot.team_url})
    assert refused.status_code == 422
    assert "企业微信群机器人返回了 HTTP 500。" in refused.get_data(as_text=True)
    assert office.read(team_robot_key(manager)) == ""
    robot.status = 200
    tested = session.post("/notifications/team-robot/test", {"wecom_webhook": robot.team_url})
    assert tested.status_code == 303
    assert office.read(team_robot_key(manager)) == robot.team_url
    assert [post["key"] for post in robot.received] == ["team-robot-key-91bc"]
    page = session.get("/notifications/preferences").get_data(as_text=True)
    assert "key=…91bc" in page and "team-robot-key-91bc" not in page
    assert login(make_user("rep")).post("/notifications/team-robot", {"wecom_webhook": ""}).status_code == 403


# The channel settings


def post_email_settings(session, **values):
    form = {"host": "127.0.0.1", "port": "25", "security": "none", "username": "", "smtp_password": "",
            "sender": "villa@example.com", "recipient": ""}  # fmt: skip
    form.update(values)
    test = form.pop("test", False)
    return session.post("/admin/settings/email" + ("/test" if test else ""), form)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"host": "smtp server"}, "host", "请填写邮件服务器的主机名"),
        ({"port": "70000"}, "port", "65535"),
        ({"sender": ""}, "sender", "请填写发件人地址。"),
        ({"host": "smtp.exmail.qq.com"}, "security", "不加密只能用于本机的邮件中继"),
        ({"security": "starttls", "smtp_password": "a\nb"}, "smtp_password", "只能一行"),
    ],
)
def test_wrong_mail_settings_are_refused_at_the_field(login_as, values, field, message):
    session = login_as("admin")
    response = post_email_settings(session, **values)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in page and message in page
    assert office.read("smtp")["host"] == ""


def test_mail_settings_are_kept_only_once_a_test_message_arrived(make_user, login, mailbox):
    admin = make_user("admin")
    session = login(admin)
    settings = {"port": str(mailbox.port), "username": "villa-mailer", "recipient": "admin@example.com"}
    wrong = post_email_settings(session, test=True, smtp_password="not-the-password", **settings)
    assert wrong.status_code == 422
    assert 'data-testid="error-smtp_password"' in wrong.get_data(as_text=True)
    assert "邮件服务器拒绝了用户名或密码。" in wrong.get_data(as_text=True)
    assert office.read("smtp")["host"] == "" and mailbox.emails == []

    right = post_email_settings(session, test=True, smtp_password=SMTP_PASSWORD, **settings)
    assert right.status_code == 303
    assert mailbox.to() == ["admin@example.com"] and "测试" in mailbox.texts()[0]
    assert office.read("smtp")["port"] == mailbox.port and office.read("smtp_password") == SMTP_PASSWORD
    page = session.get("/admin/settings/email").get_data(as_text=True)
    assert SMTP_PASSWORD not in page and 'data-testid="test-email"' in page
    assert SMTP_PASSWORD.encode() not in raw_column(SecretSetting.value, SecretSetting.get().id)
    changed = AuditLog.get(AuditLog.target == "setting:smtp_password")
    assert SMTP_PASSWORD not in changed.changes

    # Saving again without typing the password keeps the stored one.
    assert post_email_settings(session, port=str(mailbox.port), username="villa-mailer").status_code == 303
    assert office.read("smtp_password") == SMTP_PASSWORD


def test_a_key_rotation_rewrites_the_stored_password(make_user):
    office.save(smtp_settings(2525), make_user("admin"))
    version, _ = rotate_data_key(batch=10)
    stored = SecretSetting.get()
    assert crypto.keyring().key_version(raw_column(SecretSetting.value, stored.id)) == version
    assert office.read("smtp_password") == SMTP_PASSWORD


def test_a_mail_server_nobody_answers_is_said_at_the_host(login_as):
    response = post_email_settings(login_as("admin"), test=True, port="1", recipient="admin@example.com")
    assert response.status_code == 422
    assert 'data-testid="error-host"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1", "完整群机器人"),
        ("http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1", "必须以 https:// 开头"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "没有 key="),
    ],
)
def test_a_wrong_robot_address_is_refused_at_the_field(login_as, address, message):
    response = login_as("admin").post("/admin/settings/wecom", {"wecom_webhook": address})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-wecom_webhook"' in page and message in page and address in page
    assert office.read("wecom_webhook") == ""


def test_the_office_robot_is_tested_kept_masked_and_removed(make_user, login, robot):
    session = login(make_user("admin"))
    robot.errcode = 93000
    refused = session.post("/admin/settings/wecom/test", {"wecom_webhook": robot.url})
    assert refused.status_code == 422 and "errcode 93000" in refused.get_data(as_text=True)
    robot.errcode = 0
    assert session.post("/admin/settings/wecom/test", {"wecom_webhook": robot.url}).status_code == 303
    assert office.read("wecom_webhook") == robot.url and len(robot.received) == 1
    page = session.get("/admin/settings/wecom").get_data(as_text=True)
    assert "key=…7f3a" in page and "office-robot-key-7f3a" not in page
    assert session.post("/admin/settings/wecom", {"wecom_webhook": "", "remove": "y"}).status_code == 303
    assert office.read("wecom_webhook") == "" and SecretSetting.select().count() == 0


# The admin's queue


def test_the_admin_sees_a_queued_error_and_retries_it(app, make_user, make_customer, login, mailbox):
    admin = make_user("admin")
    office.save(smtp_settings(mailbox.port), admin)
    rep = make_user("rep", display_name="李娜")
    save_preferences(rep, "li.na@example.com", "", {"return_visit": ["email"]})
    notify(rep, "return_visit", "visit:1", VISIT)
    mailbox.password = "changed"
    with app.app_context():
        send_due()
    session = login(admin)
    assert 'href="/notifications/queue"' in session.get("/admin/").get_data(as_text=True)
    page = session.get("/notifications/queue").get_data(as_text=True)
    delivery = NotificationDelivery.get()
    assert f'data-testid="delivery-{delivery.id}"' in page and "李娜" in page
    assert "邮件服务器拒绝了用户名或密码。" in page and "<td>1</td>" in page

    mailbox.password = SMTP_PASSWORD
    response = session.post(f"/notifications/queue/{delivery.id}/retry")
    assert response.status_code == 303
    assert NotificationDelivery.get_by_id(delivery.id).status == "sent" and len(mailbox.emails) == 1
    page = session.get("/notifications/queue").get_data(as_text=True)
    assert 'data-testid="notify-nothing-waiting"' in page and 'data-testid="notify-sent"' in page
    assert AuditLog.select().where(AuditLog.action == "notification_retried").count() == 1


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
def test_only_the_admin_sees_the_queue(login_as, role):
    session = login_as(role)
    assert session.get("/notifications/queue").status_code == 403
    assert session.post("/notifications/queue/1/retry").status_code == 403


def test_retrying_what_is_not_there_is_404(login_as):
    assert login_as("admin").post("/notifications/queue/999/retry").status_code == 404


def test_a_held_delivery_is_not_retried_under_its_sender(app, make_user, login):
    rep = make_user("rep")
    office.save(smtp_settings(2525), make_user("admin"))
    save_preferences(rep, "rep@example.com", "", {"return_visit": ["email"]})
    notify(rep, "return_visit", "visit:1", VISIT)
    NotificationDelivery.update(status="sending", claimed_until=now() + timedelta(minutes=5)).execute()
    session = login_as_admin = login(make_user("admin"))
    delivery = NotificationDelivery.get()
    assert 'data-testid="retry"' not in session.get("/notifications/queue").get_data(as_text=True)
    login_as_admin.post(f"/notifications/queue/{delivery.id}/retry")
    assert NotificationDelivery.get_by_id(delivery.id).attempts == 0


# The demo


def test_the_demo_rep_finds_reminders_in_the_inbox(demo_app):
    load_demo(40)
    rep = User.get(User.username == "rep")
    kinds = {n.kind for n in Notification.select().where(Notification.recipient == rep.id)}
    assert kinds == {"digest", "return_visit"}
    session = Session(demo_app.test_client())
    assert session.post("/login", {"username": "rep", "password": DEMO_PASSWORD}).status_code == 303
    assert 'data-testid="bell-count">2<' in bell(session)
