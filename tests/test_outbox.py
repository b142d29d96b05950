"""The outbox: review outcomes become messages to the customer; a gateway or the desk sends them."""

from datetime import timedelta

import pytest

from villa import messaging
from villa.models import AccessLog, OutboxMessage, Setting, now


class RecordingGateway(messaging.Gateway):
    """A provider that always succeeds, and remembers what it was asked to send."""

    name = "recording"
    calls: list = []

    def send(self, message, phone):
        RecordingGateway.calls.append((message.id, message.body, phone))
        return True


class BrokenGateway(messaging.Gateway):
    name = "broken"

    def send(self, message, phone):
        raise ConnectionError(f"provider down while texting {phone}")


@pytest.fixture(autouse=True)
def _fresh_gateway_calls():
    RecordingGateway.calls = []


def notify(app, customer, kind, reason="", gateway=""):
    """What a review decision does: the message composed, then handed to the gateway."""
    app.config["SMS_GATEWAY"] = gateway
    with app.app_context():
        return send(customer, kind, reason)


def send(customer, kind, reason=""):
    message = messaging.compose(customer, kind, reason)
    return messaging.deliver(message) if message else None


def queued(customer, status="to_send", age_minutes=0, **fields):
    return OutboxMessage.create(
        customer=customer,
        kind=fields.pop("kind", "rejection"),
        body=fields.pop("body", f"{customer.name}您好，请补充信息。"),
        status=status,
        created_at=now() - timedelta(minutes=age_minutes),
        **fields,
    )


def test_notify_puts_the_name_and_the_customers_text_in_and_never_the_phone(app, make_customer):
    customer = make_customer(name="王小明", phone="+8613800138000")
    message = notify(app, customer, "rejection", "  购房需求信息不完整 ")
    assert message.body == (
        "王小明您好，您在本项目售楼处的登记信息需要补充：请补充您的购房需求（户型、面积、预算）。"
        "置业顾问会尽快与您联系。"
    )
    for shown in ("13800138000", "138 0013 8000", "8000"):
        assert shown not in message.body
    assert (message.kind, message.status, message.gateway) == ("rejection", "to_send", "manual")


def test_a_name_that_looks_like_a_placeholder_stays_as_typed(app, make_customer):
    message = notify(app, make_customer(name="{reason}"), "rejection", "联系电话无法接通或不是本人")
    assert message.body.startswith("{reason}您好") and message.body.count("请确认您登记的联系电话") == 1


def test_approval_messages_only_when_the_office_wants_them(app, make_customer):
    customer = make_customer()
    assert notify(app, customer, "approval") is None
    assert OutboxMessage.select().count() == 0
    Setting.write("notify_on_approval", True)
    message = notify(app, customer, "approval")
    assert message.kind == "approval" and "登记已完成审核" in message.body
    assert OutboxMessage.select().count() == 1


def test_a_long_text_is_cut_to_the_message_limit(app, make_customer):
    Setting.write("message_templates", {"rejection": "{name}：{reason}" + "请注意。" * 60})
    message = notify(app, make_customer(name="李四"), "rejection", "原因")
    assert len(message.body) == messaging.MAX_LENGTH
    assert OutboxMessage.get_by_id(message.id).body.startswith("李四：请联系您的置业顾问请注意。")


DEFAULT_REASONS = [
    "联系电话无法接通或不是本人",
    "客户姓名与证件不符",
    "来源渠道登记有误",
    "购房需求信息不完整",
    "疑似重复登记",
    "未取得客户同意",
]


@pytest.mark.parametrize("reason", DEFAULT_REASONS)
def test_rejecting_with_each_default_reason_tells_the_customer_no_internal_reason(
    reason, make_user, make_customer, login
):
    """The reviewer's reason and details stay inside; the customer reads the office's text for it."""
    manager = make_user("manager")
    customer = make_customer(owner=make_user("rep", manager=manager), name="赵敏")
    response = login(manager).post(
        f"/review/{customer.id}/reject", {"reason": reason, "note": "前台登记时电话少一位"}
    )
    assert response.status_code == 303
    body = OutboxMessage.get(OutboxMessage.customer == customer.id).body
    assert body.startswith("赵敏您好") and "置业顾问" in body
    for internal in [*DEFAULT_REASONS, "前台登记时电话少一位"]:
        assert internal not in body
    assert Setting.read("rejection_customer_texts")[reason].rstrip("。") in body


def test_a_typed_reason_not_in_the_list_gives_the_default_text(app, make_customer):
    message = notify(app, make_customer(name="李四"), "rejection", "销售说这个客户是同行来打探的")
    assert "同行" not in message.body and "请联系您的置业顾问" in message.body


def test_an_office_text_for_a_reason_of_its_own(app, make_customer):
    Setting.write("rejection_reasons", ["电话空号"])
    Setting.write("rejection_customer_texts", {"电话空号": "请更新您的联系电话。"})
    message = notify(app, make_customer(name="李四"), "rejection", "电话空号：拨打三次均为空号")
    assert "请更新您的联系电话。置业顾问" in message.body  # no doubled full stop
    assert "空号" not in message.body


def test_a_configured_gateway_sends_without_the_desk(make_app, make_customer):
    customer = make_customer(phone="+8613800138000")
    gateway_app = make_app(SMS_GATEWAY="tests.test_outbox:RecordingGateway")
    with gateway_app.app_context():
        message = send(customer, "rejection", "证件不符")
    assert RecordingGateway.calls == [(message.id, message.body, "+8613800138000")]
    stored = OutboxMessage.get_by_id(message.id)
    assert (stored.status, stored.gateway, stored.sent_by_id) == ("sent", "recording", None)
    assert stored.sent_at is not None


def test_a_failing_gateway_leaves_the_message_failed_and_notify_returns(app, make_customer, caplog):
    customer = make_customer(phone="+8613800138000")
    message = notify(app, customer, "rejection", "原因", gateway="tests.test_outbox:BrokenGateway")
    stored = OutboxMessage.get_by_id(message.id)
    assert (stored.status, stored.error, stored.gateway) == ("failed", "ConnectionError", "broken")
    assert "13800138000" not in caplog.text


def test_a_gateway_that_cannot_load_does_not_stop_the_review(app, make_customer):
    message = notify(app, make_customer(), "rejection", "原因", gateway="tests.no_such_module:Gateway")
    assert (message.status, message.error) == ("failed", "ModuleNotFoundError")


def test_the_page_lists_messages_to_send_first_oldest_first(login_as, make_customer):
    newer = queued(make_customer(name="新客户"), age_minutes=5)
    older = queued(make_customer(name="老客户"), age_minutes=60)
    sent = queued(make_customer(name="已发送"), status="sent", age_minutes=1, sent_at=now())
    failed = queued(make_customer(name="失败了"), status="failed", error="TimeoutError", age_minutes=2)
    response = login_as("reception").get("/outbox/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    rows = [page.index(f'data-testid="message-{m.id}"') for m in (older, newer, sent, failed)]
    assert rows[0] < rows[1] < min(rows[2:])
    assert "老**" in page and "老客户</td>" not in page
    assert f'data-testid="reveal-{older.id}"' in page and f'data-testid="reveal-{sent.id}"' not in page
    assert "TimeoutError" in page and f'data-testid="retry-{failed.id}"' in page


def test_the_text_is_escaped(login_as, make_customer):
    customer = make_customer(name="王五")
    queued(customer, body="王五<script>alert(1)</script>")
    page = login_as("manager").get("/outbox/").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "王*&lt;script&gt;alert(1)" in page


def test_marking_sent_with_htmx_returns_the_row_and_records_who(make_user, login, make_customer):
    desk = make_user("reception", display_name="前台小周")
    message = queued(make_customer())
    session = login(desk)
    response = session.post(f"/outbox/{message.id}/sent", htmx=True)
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert "<html" not in row and row.lstrip().startswith("<tr")
    assert 'data-status="sent"' in row and "前台小周" in row and "mark-sent-" not in row
    stored = OutboxMessage.get_by_id(message.id)
    assert (stored.status, stored.sent_by_id) == ("sent", desk.id)
    other_desk = login(make_user("manager"))
    assert other_desk.post(f"/outbox/{message.id}/sent", htmx=True).status_code == 200
    unchanged = OutboxMessage.get_by_id(message.id)
    assert (unchanged.status, unchanged.sent_by_id, unchanged.sent_at) == ("sent", desk.id, stored.sent_at)


def test_marking_sent_without_htmx_goes_back_to_the_list(login_as, make_customer):
    message = queued(make_customer())
    response = login_as("manager").post(f"/outbox/{message.id}/sent")
    assert response.status_code == 303 and response.headers["Location"].endswith("/outbox/")
    assert OutboxMessage.get_by_id(message.id).status == "sent"


def test_showing_the_number_is_logged_and_only_for_messages_to_send(make_user, login, make_customer):
    desk = make_user("reception")
    customer = make_customer(phone="+8613800138000")
    message = queued(customer)
    session = login(desk)
    response = session.post(f"/outbox/{message.id}/phone", htmx=True)
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert "138 0013 8000" in row and "<html" not in row
    entry = AccessLog.get()
    assert (entry.actor_id, entry.customer_id, entry.fields) == (desk.id, customer.id, "phone")
    assert entry.action == "reveal"
    sent = queued(make_customer(phone="+8613900139000"), status="sent", sent_at=now())
    refused = session.post(f"/outbox/{sent.id}/phone", htmx=True)
    assert refused.status_code == 403
    assert "139 0013 9000" not in refused.get_data(as_text=True)
    assert session.post(f"/outbox/{sent.id}/phone").status_code == 403
    assert AccessLog.select().count() == 1


def test_the_page_itself_shows_only_masked_numbers(login_as, make_customer):
    queued(make_customer(phone="+8613800138000"))
    page = login_as("reception").get("/outbox/").get_data(as_text=True)
    assert "138****8000" in page and "13800138000" not in page and "138 0013 8000" not in page
    assert AccessLog.select().count() == 0


def test_a_failed_message_can_be_tried_again(app, login_as, make_customer):
    message = queued(make_customer(phone="+8613800138000"), status="failed", error="ConnectionError")
    app.config["SMS_GATEWAY"] = "tests.test_outbox:RecordingGateway"
    response = login_as("manager").post(f"/outbox/{message.id}/retry", htmx=True)
    assert response.status_code == 200 and 'data-status="sent"' in response.get_data(as_text=True)
    stored = OutboxMessage.get_by_id(message.id)
    assert (stored.status, stored.error, stored.gateway) == ("sent", "", "recording")
    assert RecordingGateway.calls == [(message.id, message.body, "+8613800138000")]


def test_retrying_with_the_manual_gateway_hands_it_back_to_the_desk(login_as, make_customer):
    message = queued(make_customer(), status="failed", error="ConnectionError")
    response = login_as("reception").post(f"/outbox/{message.id}/retry")
    assert response.status_code == 303
    assert OutboxMessage.get_by_id(message.id).status == "to_send"


@pytest.mark.parametrize("role", ["rep", "auditor", "admin"])
def test_other_roles_cannot_use_the_outbox(login_as, make_customer, role):
    message = queued(make_customer())
    session = login_as(role)
    assert session.get("/outbox/").status_code == 403
    for action in ("sent", "phone", "retry"):
        assert session.post(f"/outbox/{message.id}/{action}").status_code == 403
    assert OutboxMessage.get_by_id(message.id).status == "to_send"
    assert AccessLog.select().count() == 0


@pytest.mark.parametrize("role", ["reception", "manager"])
def test_the_desk_sees_the_messages_link(login_as, role):
    assert 'href="/outbox/"' in login_as(role).get("/", follow_redirects=True).get_data(as_text=True)


def test_a_text_written_with_another_name_shows_only_with_the_number(make_user, login, make_customer):
    """The customer was renamed after the message was written: masking the name it has now would leave
    the old one in clear, so nothing of the text shows until the (logged) reveal."""
    message = queued(make_customer(name="欧阳新名"), body="吴旧名您好，请补充信息。")
    session = login(make_user("reception"))
    page = session.get("/outbox/").get_data(as_text=True)
    assert f'data-testid="message-{message.id}"' in page
    assert "吴旧名" not in page and "请补充信息" not in page
    row = session.post(f"/outbox/{message.id}/phone", htmx=True).get_data(as_text=True)
    assert "吴旧名您好，请补充信息。" in row
    assert AccessLog.select().count() == 1


def test_a_manager_sends_only_for_customers_they_may_see_in_full(make_user, login, make_customer):
    manager, other = make_user("manager"), make_user("manager")
    customer = make_customer(owner=make_user("rep", manager=manager), name="孙八")
    message = queued(customer, status="failed", error="ConnectionError")
    outsider = login(other)
    page = outsider.get("/outbox/").get_data(as_text=True)
    assert f'data-testid="retry-{message.id}"' not in page and "孙八" not in page
    for action in ("retry", "sent", "phone"):
        assert outsider.post(f"/outbox/{message.id}/{action}", htmx=True).status_code == 403
    assert OutboxMessage.get_by_id(message.id).status == "failed"
    assert f'data-testid="retry-{message.id}"' in login(manager).get("/outbox/").get_data(as_text=True)
