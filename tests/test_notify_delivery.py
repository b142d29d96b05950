"""Staff notifications leave the building once, masked, and a failing channel never loses or doubles one.

With a local mail server (aiosmtpd) and a local WeCom group robot (tests/notify_servers.py).
"""

import threading
from datetime import timedelta

import pytest

from villa import settings as office
from villa.clock import now, office_today
from villa.models import Notification, NotificationDelivery
from villa.notify import outbox
from villa.notify.messages import notify
from villa.notify.preferences import save_preferences
from villa.registration import log_return_visit

from . import notify_servers
from .notify_servers import contents, smtp_settings

FULL_NAME, PHONE = "王小明", "+8613912345678"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
mailbox, robot = notify_servers.mailbox, notify_servers.robot  # the local servers (fixtures)


@pytest.fixture
def office_channels(app, make_user, mailbox, robot):
    """Email and the office's group robot set up; returns the admin who set them up."""
    admin = make_user("admin")
    office.save({**smtp_settings(mailbox.port), "wecom_webhook": robot.url}, admin)
    return admin


def rep_with_day(make_user, make_customer, name=FULL_NAME, phone=PHONE, **user_fields):
    """A rep with one customer due for a follow-up today."""
    rep = make_user("rep", **user_fields)
    make_customer(owner=rep, name=name, phone=phone, next_followup_on=office_today())
    return rep


def test_the_digest_arrives_once_per_rep_with_masked_names_only(
    app,
    runner,
    office_channels,
    make_user,
    make_customer,
    mailbox,
    robot,
):
    li = rep_with_day(make_user, make_customer, display_name="李娜")
    zhang = rep_with_day(make_user, make_customer, name="赵雪梅", phone="+8613987654321", display_name="张伟")
    quiet = make_user("rep")  # nothing due: no digest
    save_preferences(li, "li.na@example.com", "lina", {"digest": ["email", "wecom"]})
    save_preferences(zhang, "zhang.wei@example.com", "", {"digest": ["email"]})
    save_preferences(quiet, "quiet@example.com", "", {"digest": ["email"]})

    for _ in range(2):  # cron ran it twice: still one digest each
        assert "2 reps told" in runner.invoke(args=["digest"]).output
        runner.invoke(args=["notify-send"])

    assert sorted(mailbox.to()) == ["li.na@example.com", "zhang.wei@example.com"]
    assert len(robot.received) == 1 and robot.received[0]["text"]["mentioned_list"] == ["lina"]
    outside = "\n".join(mailbox.texts() + contents(robot))
    assert "王**" in outside and "赵**" in outside
    for secret in (FULL_NAME, "赵雪梅", "13912345678", "1234 5678", "13987654321"):
        assert secret not in outside
    assert "【李娜】" in contents(robot)[0]  # the group sees whose it is
    assert Notification.select().where(Notification.kind == "digest").count() == 2


def test_villa_daily_writes_the_digests_and_sends_them(app, runner, office_channels, make_user, make_customer,
                                                      mailbox):  # fmt: skip
    rep = rep_with_day(make_user, make_customer)
    save_preferences(rep, "rep@example.com", "", {"digest": ["email"]})
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    assert "morning digests: 1 reps told" in result.output
    assert "staff notifications: 1 sent" in result.output
    assert len(mailbox.emails) == 1


def queued_return_visit(make_user, make_customer, channels):
    rep = make_user("rep")
    save_preferences(rep, "rep@example.com", "", {"return_visit": channels})
    customer = make_customer(owner=rep, name=FULL_NAME, phone=PHONE)
    log_return_visit(customer, make_user("reception"))
    return NotificationDelivery.get()


def test_a_refused_password_is_retried_with_growing_waits_and_delivered_once_it_works(
    app,
    office_channels,
    make_user,
    make_customer,
    mailbox,
):
    delivery = queued_return_visit(make_user, make_customer, ["email"])
    mailbox.password = "changed-on-the-server"
    start = now()
    with app.app_context():
        assert outbox.send_due(start).retrying == 1
        outbox.send_due(start + timedelta(seconds=30))  # not due yet: no second attempt
    waiting = NotificationDelivery.get_by_id(delivery.id)
    # In the office's language: the admin reads it on the queue page.
    assert (waiting.status, waiting.attempts, waiting.error) == (
        "queued",
        1,
        "邮件服务器拒绝了用户名或密码。",
    )
    assert waiting.next_attempt_at == start + timedelta(minutes=1)

    later = start + timedelta(minutes=1)
    with app.app_context():
        outbox.send_due(later)
    assert NotificationDelivery.get_by_id(delivery.id).next_attempt_at == later + timedelta(minutes=2)
    assert mailbox.emails == []

    mailbox.password = office.read("smtp_password")
    with app.app_context():
        assert outbox.send_due(later + timedelta(minutes=2)).sent == 1
        assert not outbox.send_due(later + timedelta(days=1)).anything
    sent = NotificationDelivery.get_by_id(delivery.id)
    assert (sent.status, sent.attempts, sent.error) == ("sent", 3, "")
    assert len(mailbox.emails) == 1 and "王**" in mailbox.texts()[0]


def test_a_group_robot_answering_500_is_retried_and_gets_the_message_once(
    app,
    office_channels,
    make_user,
    make_customer,
    robot,
):
    delivery = queued_return_visit(make_user, make_customer, ["wecom"])
    robot.status = 500
    with app.app_context():
        outbox.send_due()
    assert NotificationDelivery.get_by_id(delivery.id).error == "企业微信群机器人返回了 HTTP 500。"
    robot.status = 200
    with app.app_context():
        for minutes in (2, 5, 60):
            outbox.send_due(now() + timedelta(minutes=minutes))
    assert len(robot.received) == 1
    assert NotificationDelivery.get_by_id(delivery.id).status == "sent"


def test_a_group_robot_that_does_not_answer_in_time_is_retried(
    app,
    office_channels,
    make_user,
    make_customer,
    robot,
):
    app.config["NOTIFY_TIMEOUT_SECONDS"] = 0.5
    delivery = queued_return_visit(make_user, make_customer, ["wecom"])
    robot.hang.set()
    with app.app_context():
        assert outbox.send_due().retrying == 1
    assert NotificationDelivery.get_by_id(delivery.id).error == "企业微信群机器人在 0.5 秒内没有应答。"
    robot.hang.clear()
    robot.release.set()
    with app.app_context():
        outbox.send_due(now() + timedelta(minutes=2))
    assert len(robot.received) == 1


def test_a_robot_that_refuses_the_message_keeps_it_queued(app, office_channels, make_user, make_customer,
                                                         robot):  # fmt: skip
    delivery = queued_return_visit(make_user, make_customer, ["wecom"])
    robot.errcode = 93000  # WeCom: invalid webhook url
    with app.app_context():
        outbox.send_due()
    waiting = NotificationDelivery.get_by_id(delivery.id)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert "93000" in waiting.error and robot.received == []


def test_after_the_last_attempt_it_is_given_up_and_waits_for_the_admin(
    app,
    office_channels,
    make_user,
    make_customer,
    mailbox,
):
    delivery = queued_return_visit(make_user, make_customer, ["email"])
    mailbox.password = "wrong"
    moment = now()
    with app.app_context():
        for _ in range(outbox.MAX_ATTEMPTS + 3):
            moment += timedelta(hours=2)
            outbox.send_due(moment)
    given_up = NotificationDelivery.get_by_id(delivery.id)
    assert (given_up.status, given_up.attempts) == ("failed", outbox.MAX_ATTEMPTS)

    mailbox.password = office.read("smtp_password")
    with app.app_context():
        assert outbox.retry_now(delivery.id, office_channels) == "sent"
        assert outbox.retry_now(delivery.id, office_channels) == "sent"  # already sent: nothing more
    assert len(mailbox.emails) == 1


def test_two_senders_racing_send_each_message_once(app, office_channels, make_user, mailbox):
    reps = [make_user("rep") for _ in range(3)]
    for rep in reps:
        save_preferences(rep, f"{rep.username}@example.com", "", {"return_visit": ["email"]})
    for number in range(12):
        rep = reps[number % 3]
        notify(
            rep,
            "return_visit",
            f"race:{number}",
            {"name": "王**", "visit": "visit", "at": "2026-11-05T02:00"},
        )
    start = threading.Barrier(2)
    reports = []

    def sender():
        with app.app_context():
            start.wait()
            reports.append(outbox.send_due())

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(report.sent for report in reports) == 12
    assert len(mailbox.emails) == 12
    assert len({email["Message-ID"] for email in mailbox.emails}) == 12
    assert {d.attempts for d in NotificationDelivery.select()} == {1}


def test_only_one_of_two_senders_claims_a_delivery(app, office_channels, make_user, make_customer):
    delivery = queued_return_visit(make_user, make_customer, ["email"])
    moment = now()
    assert outbox.claim(delivery.id, moment) is True
    assert outbox.claim(delivery.id, moment) is False


def test_a_sender_that_stopped_while_sending_is_not_sent_again(
    app,
    office_channels,
    make_user,
    make_customer,
    mailbox,
):
    delivery = queued_return_visit(make_user, make_customer, ["email"])
    moment = now()
    assert outbox.claim(delivery.id, moment)  # and then the sender was killed
    with app.app_context():
        assert outbox.send_due(moment + timedelta(minutes=1)).sent == 0  # still held
        assert outbox.send_due(moment + outbox.HOLD + timedelta(seconds=1)).interrupted == 1
    stopped = NotificationDelivery.get_by_id(delivery.id)
    assert stopped.status == "failed" and "可能已经送达" in stopped.error
    assert mailbox.emails == []


def test_the_desk_request_sends_right_after_its_answer(app, office_channels, make_user, make_customer, login,
                                                       robot):  # fmt: skip
    rep = make_user("rep")
    save_preferences(rep, "", "", {"return_visit": ["wecom"]})
    customer = make_customer(owner=rep, name=FULL_NAME, phone=PHONE)
    desk = login(make_user("reception"))
    response = desk.post(f"/reception/customers/{customer.id}/return-visit", {"kind": "visit", "note": ""})
    assert response.status_code == 303
    assert robot.received == []  # not while the desk waits for its answer
    response.close()  # the answer is out
    assert len(robot.received) == 1 and "王**" in contents(robot)[0]
    assert NotificationDelivery.get().status == "sent"


def test_a_failing_channel_never_fails_the_desk(app, make_user, make_customer, login):
    admin = make_user("admin")
    office.save(smtp_settings(1), admin)  # nobody listens on port 1
    rep = make_user("rep")
    save_preferences(rep, "rep@example.com", "", {"return_visit": ["email"]})
    customer = make_customer(owner=rep, name=FULL_NAME, phone=PHONE)
    desk = login(make_user("reception"))
    response = desk.post(f"/reception/customers/{customer.id}/return-visit", {"kind": "visit", "note": ""})
    response.close()
    assert response.status_code == 303
    assert customer.visits.count() == 1
    delivery = NotificationDelivery.get()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.error == "无法连接邮件服务器 127.0.0.1 的 1 端口。"
