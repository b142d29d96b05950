"""A return visit and a decided dispute reach the rep whose customer it is, and no one else; each goes
where the rep chose (the inbox always), and the team's group robot before the office's."""

import pytest

from villa import settings as office
from villa.models import Notification, NotificationDelivery
from villa.notify.outbox import send_due
from villa.notify.preferences import save_preferences, team_robot_key
from villa.ownership import decide_dispute, open_dispute
from villa.registration import log_return_visit

from . import notify_servers
from .notify_servers import contents, smtp_settings

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
robot = notify_servers.robot  # the local group robot (a fixture)


def notified(user) -> list[Notification]:
    return list(Notification.select().where(Notification.recipient == user.id).order_by(Notification.id))


def inbox(login, user) -> str:
    return login(user).get("/notifications/").get_data(as_text=True)


def test_a_return_visit_reaches_the_owning_rep_only(make_user, make_customer, login):
    manager = make_user("manager")
    owner, other = make_user("rep", manager=manager), make_user("rep", manager=manager)
    customer = make_customer(owner=owner, name="王小明", phone="+8613912345678")
    log_return_visit(customer, make_user("reception"), "visit", "带家人来，电话13912345678")

    (note,) = notified(owner)
    assert (note.kind, note.customer_id) == ("return_visit", customer.id)
    assert notified(other) == [] and notified(manager) == []
    page = inbox(login, owner)
    assert "您的客户 王** 再次来到售楼处" in page and f"/customers/{customer.id}" in page
    assert "王小明" not in page and "13912345678" not in page and "带家人来" not in page
    assert "王**" not in inbox(login, other)


def test_a_rep_who_logs_their_own_customers_visit_is_not_told(make_user, make_customer):
    rep = make_user("rep")
    log_return_visit(make_customer(owner=rep), rep, "call")
    assert notified(rep) == []


def test_a_visit_of_a_customer_in_the_pool_tells_nobody(make_user, make_customer):
    log_return_visit(make_customer(owner=None, in_public_pool=True), make_user("reception"))
    assert Notification.select().count() == 0


def test_a_decided_dispute_tells_both_reps_how_it_went_and_nobody_else(make_user, make_customer, login):
    manager = make_user("manager")
    owner, claimant, bystander = (make_user("rep", manager=manager) for _ in range(3))
    customer = make_customer(owner=owner, name="赵雪梅")
    dispute = open_dispute(customer, claimant, "车展先接待")
    decide_dispute(dispute, manager, "to_claimant", "车展登记在先，客户电话 13800001111")

    assert notified(manager) == [] and notified(bystander) == []
    assert "客户 赵** 归您" in inbox(login, claimant)
    lost = inbox(login, owner)
    assert "客户 赵** 归提出撞单的置业顾问" in lost
    assert "赵雪梅" not in lost and "13800001111" not in lost


def test_a_dispute_the_owner_keeps_says_so_to_both(make_user, make_customer, login):
    manager = make_user("manager")
    owner, claimant = make_user("rep", manager=manager), make_user("rep", manager=manager)
    dispute = open_dispute(make_customer(owner=owner, name="钱多多"), claimant, "理由")
    decide_dispute(dispute, manager, "keep_owner", "")
    assert "客户 钱** 归您" in inbox(login, owner)
    assert "客户 钱** 仍归原置业顾问" in inbox(login, claimant)


def test_deliveries_follow_each_reps_choices(app, make_user, make_customer, robot):
    admin = make_user("admin")
    office.save({**smtp_settings(2525), "wecom_webhook": robot.url}, admin)
    by_email, to_group, inbox_only = make_user("rep"), make_user("rep"), make_user("rep")
    save_preferences(by_email, "a@example.com", "", {"return_visit": ["email"], "digest": ["wecom"]})
    save_preferences(to_group, "", "", {"return_visit": ["wecom"]})
    save_preferences(inbox_only, "c@example.com", "", {"digest": ["email"]})  # not return visits
    desk = make_user("reception")
    for rep in (by_email, to_group, inbox_only):
        log_return_visit(make_customer(owner=rep), desk)

    channels = {
        (d.notification.recipient_id, d.channel) for d in NotificationDelivery.select().join(Notification)
    }
    assert channels == {(by_email.id, "email"), (to_group.id, "wecom")}
    assert Notification.select().count() == 3  # every one of them in an inbox


def test_a_disabled_rep_gets_the_inbox_entry_but_nothing_is_sent(app, make_user, make_customer):
    office.save(smtp_settings(2525), make_user("admin"))
    rep = make_user("rep")
    save_preferences(rep, "rep@example.com", "", {"return_visit": ["email"]})
    rep.active = False
    rep.save()
    log_return_visit(make_customer(owner=rep), make_user("reception"))
    assert len(notified(rep)) == 1 and NotificationDelivery.select().count() == 0


def test_the_team_group_gets_its_reps_messages_and_the_office_group_the_others(
    app,
    make_user,
    make_customer,
    robot,
):
    admin, manager = make_user("admin"), make_user("manager")
    office.save({"wecom_webhook": robot.url, team_robot_key(manager): robot.team_url}, admin)
    in_team, no_team = make_user("rep", manager=manager), make_user("rep")
    for rep in (in_team, no_team):
        save_preferences(rep, "", "", {"return_visit": ["wecom"]})
        log_return_visit(make_customer(owner=rep), make_user("reception"))
    with app.app_context():
        assert send_due().sent == 2
    keys = sorted(post["key"] for post in robot.received)
    assert keys == ["office-robot-key-7f3a", "team-robot-key-91bc"]
    assert all("王**" in text for text in contents(robot))
