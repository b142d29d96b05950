"""报备 and 确客: a broker pre-registers a customer, the first open 报备 wins, the desk confirms it.

Each rule at its edges: the validity's last minute (on the app's clock, villa.clock.now), first-wins
between agencies (and over real HTTP from ten requests at once), 前三后四 matching only with the
surname, a known customer refused without saying whose, bad input, inactive agencies and brokers,
and a broker's account that reaches nothing but its own 报备.
"""

import re
import threading
from datetime import timedelta

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, Session, create_user
from tests.helpers import registration_form
from villa import settings
from villa.broker_accounts import add_broker_account
from villa.models import Agency, AuditLog, Broker, Customer, Report, Setting, now, office_today
from villa.report_desk import binding_report, find_report
from villa.reports import expire_lapsed, valid_until_for

REFUSED = "客户已存在，报备无效"
PHONE, MASK = "13800138000", "138****8000"


def make_broker(agency="链家", **fields):
    user = create_user("broker", **fields)
    add_broker_account(user, agency)
    return user


@pytest.fixture
def broker(app, login):
    return login(make_broker("链家", display_name="赵经纪"))


@pytest.fixture
def other_agency(app, login):
    return login(make_broker("我爱我家", display_name="钱经纪"))


def report(session, name="王五", phone=PHONE, visit=None, **more):
    visit = visit or office_today().isoformat()
    data = {"customer_name": name, "phone": phone, "expected_visit": visit, **more}
    return session.post("/broker/reports", data)


def body(response) -> str:
    return response.get_data(as_text=True)


def refused_rows(reason=None):
    rows = [r for r in AuditLog.select().where(AuditLog.action == "report_refused")]
    return [r for r in rows if reason is None or r.change_map["refused"] == reason]


# Making one.


def test_a_broker_reports_and_sees_it_waiting(broker):
    response = report(broker)
    assert response.status_code == 303 and response.location.endswith("/broker/reports")
    stored = Report.get()
    assert (stored.status, stored.phone_mask, stored.surname, stored.phone) == (
        "open",
        MASK,
        "王",
        "+8613800138000",
    )
    assert stored.open_key and stored.phone_index and stored.created_by_id == broker.user.id
    assert stored.valid_until == valid_until_for(stored.reported_at)
    page = body(broker.get("/broker/reports"))
    assert "待到访" in page and MASK in page and "王五" in page
    assert "13800138000" not in page


def test_valid_until_is_the_end_of_the_office_day_three_days_on(app):
    reported = now()
    until = valid_until_for(reported)
    office_day = (reported + timedelta(hours=8)).date()
    assert (until + timedelta(hours=8)).date() == office_day + timedelta(days=3)
    assert (until + timedelta(hours=8, seconds=1)).time().isoformat() == "00:00:00"
    Setting.write("report_valid_days", 5)
    assert (valid_until_for(reported) + timedelta(hours=8)).date() == office_day + timedelta(days=5)


def test_a_known_customer_is_refused_without_saying_whose(broker, make_user, make_customer):
    owner = make_user("rep", display_name="孙销售")
    make_customer(owner=owner, name="王大锤", phone=PHONE)
    for phone in (PHONE, MASK, "+86 138-0013-8000"):
        response = report(broker, phone=phone)
        assert response.status_code == 409, phone
        page = body(response)
        assert REFUSED in page and "孙销售" not in page and "王大锤" not in page
    assert Report.select().count() == 0
    assert len(refused_rows("customer_known")) == 3


def test_前三后四_matches_a_known_customer_only_with_the_surname(broker, make_customer):
    make_customer(name="王大锤", phone=PHONE)
    assert report(broker, name="李四", phone=MASK).status_code == 303  # another surname: not known
    assert report(broker, name="王五", phone="139****8000").status_code == 303  # other first three
    assert report(broker, name="王五", phone=MASK).status_code == 409


def test_first_wins_between_two_agencies_full_phone_and_前三后四(broker, other_agency):
    assert report(broker, name="王五", phone=PHONE).status_code == 303
    for phone in (PHONE, MASK):
        response = report(other_agency, name="王先生", phone=phone)
        assert response.status_code == 409 and REFUSED in body(response)
        assert "链家" not in body(response) and "赵经纪" not in body(response)
    # The same 前三后四 with another surname is another customer as far as anyone can tell.
    assert report(other_agency, name="李四", phone=MASK).status_code == 303
    assert [r.agency.name for r in Report.select().order_by(Report.id)] == ["链家", "我爱我家"]


def test_a_full_phone_collides_with_an_earlier_前三后四_of_the_same_surname(broker, other_agency):
    assert report(broker, name="王五", phone=MASK).status_code == 303
    assert report(other_agency, name="王小姐", phone=PHONE).status_code == 409
    assert Report.select().count() == 1


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"phone": "138***8000"}, "phone"),
        ({"phone": "13****8000"}, "phone"),
        ({"phone": "138****800"}, "phone"),
        ({"phone": "238****8000"}, "phone"),
        ({"phone": "1380013"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"name": ""}, "customer_name"),
        ({"name": "王<b>"}, "customer_name"),
        ({"visit": "2020-01-01"}, "expected_visit"),
        ({"visit": "明天"}, "expected_visit"),
    ],
)
def test_bad_input_is_422_at_the_field_with_the_values_kept(broker, changes, field):
    response = report(broker, **changes)
    assert response.status_code == 422
    page = body(response)
    assert f'data-testid="error-{field}"' in page
    typed = changes.get("phone", PHONE)
    assert typed == "" or f'value="{typed}"' in page
    assert Report.select().count() == 0 and refused_rows("invalid_input")


def test_a_visit_beyond_the_validity_is_refused(broker):
    late = (office_today() + timedelta(days=4)).isoformat()
    assert report(broker, visit=late).status_code == 422
    last = (office_today() + timedelta(days=3)).isoformat()
    assert report(broker, visit=last).status_code == 303


def test_a_broker_of_an_inactive_agency_or_an_inactive_broker_is_refused(broker):
    Agency.update(active=False).execute()
    page = body(broker.get("/broker/reports"))
    assert 'data-testid="report-blocked"' in page and 'data-testid="report-form"' not in page
    response = report(broker)
    assert response.status_code == 403 and "不在合作期内" in body(response)
    Agency.update(active=True, contract_end=office_today() - timedelta(days=1)).execute()
    assert report(broker).status_code == 403
    Agency.update(contract_end=None).execute()
    Broker.update(active=False).execute()
    assert report(broker).status_code == 403
    assert Report.select().count() == 0
    assert [r.change_map["refused"] for r in refused_rows()] == ["agency_inactive"] * 2 + ["broker_inactive"]


def test_a_deactivated_brokers_login_stops_working_until_reactivated(broker, login_as, app):
    """A broker who has left the agency: deactivating them ends their sessions and refuses their
    login (after the right password only: a wrong one is told as for anyone); reactivating lets them in."""
    record = Broker.get(Broker.user == broker.user.id)
    manager = login_as("manager")
    response = manager.post(f"/agencies/brokers/{record.id}/deactivate", follow_redirects=True)
    assert "已停用经纪人：赵经纪，其账号已无法登录。" in body(response)
    row = body(response).split(f'data-testid="broker-{record.id}"')[1].split("</tr>")[0]
    assert "已停用" in row and ">是<" not in row
    # The broker's open session is over: their next page is the login page.
    response = broker.get("/broker/reports")
    assert response.status_code == 302 and "/login" in response.location
    again = Session(app.test_client())
    again.refresh_token()
    response = again.post("/login", {"username": broker.user.username, "password": PASSWORD})
    assert response.status_code == 403 and "经纪人账号已停用" in body(response)
    assert "经纪人账号已停用" not in body(
        again.post("/login", {"username": broker.user.username, "password": "wrong-password-1"})
    )
    assert manager.post(f"/agencies/brokers/{record.id}/reactivate").status_code == 303
    response = again.post("/login", {"username": broker.user.username, "password": PASSWORD})
    assert response.status_code == 303


def test_the_rate_limit_per_account(broker):
    Setting.write("report_limit_per_hour", 2)
    assert report(broker, name="王一", phone="138****0001").status_code == 303
    assert report(broker, name="王二", phone="138****0002").status_code == 303
    response = report(broker, name="王三", phone="138****0003")
    assert response.status_code == 429 and Report.select().count() == 2
    assert refused_rows("too_many")


def test_the_broker_sees_only_their_own_reports(broker, other_agency):
    report(broker, name="王五", phone=PHONE)
    report(other_agency, name="李四", phone="13900139000")
    page = body(broker.get("/broker/reports"))
    assert "王五" in page and "李四" not in page and "139****9000" not in page


def test_a_manager_reports_on_a_brokers_behalf(login_as, broker):
    manager = login_as("manager")
    chosen = Broker.get()
    page = body(manager.get("/broker/on-behalf"))
    assert "链家 · 赵经纪" in page
    data = {
        "broker": chosen.id,
        "customer_name": "王五",
        "phone": MASK,
        "expected_visit": office_today().isoformat(),
    }
    assert manager.post("/broker/on-behalf", data).status_code == 303
    made = Report.get()
    assert made.broker_id == chosen.id and made.created_by_id == manager.user.id
    assert manager.post("/broker/on-behalf", data).status_code == 409
    assert "王五" in body(broker.get("/broker/reports"))


# A broker's account reaches nothing else.


@pytest.mark.parametrize(
    "path", ["/customers/", "/reception/register", "/reception/check?phone=13800138000", "/logs/"]
)
def test_a_broker_gets_403_elsewhere_and_it_is_logged(broker, path):
    response = broker.get(path)
    assert response.status_code == 403
    row = AuditLog.get(AuditLog.action == "broker_page_refused")
    assert row.actor_id == broker.user.id and row.change_map["path"] == path.split("?")[0]
    assert "13800138000" not in row.changes


def test_a_broker_lands_on_their_reports(broker):
    response = broker.get("/")
    assert response.status_code == 302 and response.location.endswith("/broker/reports")
    assert broker.post("/broker/on-behalf", {}).status_code == 403


def test_no_phone_in_clear_in_the_logs(broker, other_agency):
    report(broker, phone=PHONE)
    report(other_agency, phone=PHONE)
    report(broker, phone="138***8000")
    for row in AuditLog.select():
        assert "8000" not in row.changes and "13800138000" not in row.target


# The desk: the match, its validity to the minute, 确客.


def desk_check(session, phone=PHONE, name=""):
    return body(session.htmx_get(f"/reception/check?phone={phone}&name={name}"))


def test_the_desk_sees_the_report_while_typing(broker, login_as):
    report(broker, name="王五", phone=PHONE)
    desk = login_as("reception")
    fragment = desk_check(desk)
    assert 'data-testid="report-match"' in fragment and "链家" in fragment and "赵经纪" in fragment
    assert 'data-testid="dup-warning"' not in fragment and "<html" not in fragment
    assert desk_check(desk, phone="1380013") == ""


def test_a_前三后四_report_matches_at_the_desk_only_with_the_surname(broker, login_as):
    report(broker, name="王五", phone=MASK)
    desk = login_as("reception")
    assert 'data-testid="report-match"' not in desk_check(desk)  # no name typed yet
    assert 'data-testid="report-match"' not in desk_check(desk, name="李四")
    assert 'data-testid="report-match"' in desk_check(desk, name="王先生")
    assert 'data-testid="report-match"' not in desk_check(desk, phone="13800130000", name="王先生")


def test_validity_on_the_last_minute(broker, login_as):
    report(broker)
    made, desk = Report.get(), login_as("reception")
    Report.update(valid_until=now() + timedelta(minutes=1)).execute()
    assert binding_report(PHONE, "王五") is not None and find_report(PHONE).valid
    assert 'data-testid="report-binds"' in desk_check(desk)
    Report.update(valid_until=now() - timedelta(minutes=1)).execute()
    assert binding_report(PHONE, "王五") is None and not find_report(PHONE).valid
    fragment = desk_check(desk)
    assert 'data-testid="report-match"' in fragment and 'data-testid="report-expired"' in fragment
    assert "已失效" in body(broker.get("/broker/reports"))
    assert Report.get_by_id(made.id).status == "open"  # until the daily run


def test_an_expired_holder_does_not_block_a_new_report(broker, other_agency):
    report(broker)
    Report.update(valid_until=now() - timedelta(minutes=1)).execute()
    assert report(other_agency, name="王先生").status_code == 303
    assert [r.status for r in Report.select().order_by(Report.id)] == ["expired", "open"]


def test_daily_expiry_frees_the_customer(broker):
    report(broker)
    assert expire_lapsed(now()) == 0
    Report.update(valid_until=now() - timedelta(minutes=1)).execute()
    assert expire_lapsed(now()) == 1
    expired = Report.get()
    assert expired.status == "expired" and expired.open_key is None
    assert AuditLog.get(AuditLog.action == "reports_expired").change_map == {"expired": 1}


def register_at_desk(desk, rep, name="王五", phone=PHONE, **changes):
    return desk.post(
        "/reception/register", registration_form(name=name, phone=phone, rep=str(rep.id), **changes)
    )


def test_registering_confirms_the_report_and_takes_the_broker_channel(broker, login_as, make_user):
    report(broker, name="王五", phone=MASK)
    rep, desk = make_user("rep"), login_as("reception")
    response = register_at_desk(desk, rep, name="王五", channel="walk_in")
    assert response.status_code == 303, body(response)[:3000]
    customer, made = Customer.get(), Report.get()
    assert (made.status, made.customer_id, made.confirmed_by_id) == ("confirmed", customer.id, desk.user.id)
    assert made.open_key is None and made.confirmed_at is not None
    assert customer.channel.code == "broker"
    assert (customer.broker_agency, customer.broker_name) == ("链家", "赵经纪")
    assert customer.protected_until is not None and customer.owner_id == rep.id
    assert AuditLog.get(AuditLog.action == "report_confirmed").customer_id == customer.id
    assert "已确客" in body(broker.get("/broker/reports"))
    Customer.update(stage="signed").execute()
    assert "已成交" in body(broker.get("/broker/reports"))
    page = body(broker.get("/broker/reports"))
    assert rep.display_name not in page


def test_the_review_queue_shows_the_confirmed_report_and_a_broker_channel_without_one(
    broker, login_as, make_user, make_customer
):
    report(broker, name="王五", phone=MASK)
    rep, desk = make_user("rep"), login_as("reception")
    assert register_at_desk(desk, rep, name="王五", channel="walk_in").status_code == 303
    reported = Customer.get(Customer.name == "王五")
    by_hand = make_customer(owner=rep, registered_by=desk.user, channel="broker", name="钱六")
    walk_in = make_customer(owner=rep, registered_by=desk.user, channel="walk_in", name="孙七")

    page = body(login_as("manager").get("/review/"))

    def row(customer):
        return page.split(f'data-customer-id="{customer.id}"')[1].split("</tr>")[0]

    assert 'data-testid="review-report"' in row(reported) and "报备 ✓ 链家 · 赵经纪" in row(reported)
    assert 'data-testid="review-no-report"' not in row(reported)
    assert "报备 ✗" in row(by_hand) and 'data-testid="review-no-report"' in row(by_hand)
    assert 'data-testid="review-report"' not in row(walk_in)


def test_the_broker_channel_needs_no_agency_typed_when_a_report_binds(broker, login_as, make_user):
    report(broker)
    rep, desk = make_user("rep"), login_as("reception")
    assert register_at_desk(desk, rep, channel="broker").status_code == 303
    assert Report.get().status == "confirmed"


def test_an_expired_report_does_not_bind(broker, login_as, make_user):
    report(broker)
    Report.update(valid_until=now() - timedelta(minutes=1)).execute()
    rep, desk = make_user("rep"), login_as("reception")
    assert register_at_desk(desk, rep, channel="walk_in").status_code == 303
    assert Customer.get().channel.code == "walk_in" and Report.get().customer_id is None


def test_the_register_form_offers_the_agencies_and_brokers(broker, login_as):
    page = body(login_as("reception").get("/reception/register"))
    assert '<datalist id="agency-list"><option value="链家">' in page
    assert 'value="赵经纪" label="链家"' in page


# Ten at once, over real HTTP: one 报备, nine refusals.


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def http_login(base: str, user) -> tuple[requests.Session, str]:
    session = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', session.get(f"{base}/login").text).group(1)
    answer = session.post(
        f"{base}/login",
        data={"username": user.username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert answer.status_code == 303
    page = session.get(f"{base}/broker/reports").text
    return session, re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_ten_concurrent_reports_make_one(served):
    brokers = [make_broker(("链家", "我爱我家")[i % 2]) for i in range(10)]
    sessions = [http_login(served, user) for user in brokers]
    start, answers = threading.Barrier(10), [None] * 10
    data = {"customer_name": "王五", "expected_visit": office_today().isoformat()}

    def send(i):
        session, token = sessions[i]
        phone = PHONE if i % 2 else MASK
        start.wait()
        answers[i] = session.post(
            f"{served}/broker/reports",
            data={**data, "phone": phone, "csrf_token": token},
            allow_redirects=False,
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [303] + [409] * 9, statuses
    assert all(REFUSED in a.text for a in answers if a.status_code == 409)
    assert Report.select().count() == 1


# The command line.


def test_user_create_broker_makes_the_broker_and_its_agency(runner):
    result = runner.invoke(args=["user", "create", "zhao", "--role", "broker", "--agency", "链家"])
    assert result.exit_code == 0, result.output
    broker = Broker.get()
    assert broker.user.username == "zhao" and broker.agency.name == "链家" and broker.active
    again = runner.invoke(args=["user", "create", "qian", "--role", "broker", "--agency", "链家"])
    assert again.exit_code == 0 and Agency.select().count() == 1


@pytest.mark.parametrize(
    "args,expected",
    [
        (["user", "create", "zhao", "--role", "broker"], "--agency"),
        (["user", "create", "zhao", "--role", "rep", "--agency", "链家"], "only for --role broker"),
    ],
)
def test_user_create_broker_bad_input(runner, args, expected):
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and expected in result.output
    assert Broker.select().count() == 0 and settings.read("report_valid_days") == 3


def test_an_index_key_rotation_keeps_the_reports_found_and_first_wins(
    runner, broker, other_agency, monkeypatch
):
    from villa import crypto, keys

    monkeypatch.setattr(keys, "INDEX_GRACE_SECONDS", 0)
    report(broker, name="王五", phone=PHONE)
    report(broker, name="李四", phone="139****9000")
    before = {r.id: (r.phone_index, r.open_key) for r in Report.select()}
    result = runner.invoke(args=["rotate-keys", "--index-key", "--batch", "2"])
    assert result.exit_code == 0, result.output
    crypto.keyring().end_index_rotation()
    after = {r.id: (r.phone_index, r.open_key) for r in Report.select()}
    assert all(after[i][1] != before[i][1] for i in before)
    assert find_report(PHONE).agency == "链家" and find_report("13900009000", "李先生").valid
    assert report(other_agency, name="王先生", phone=MASK).status_code == 409
    assert report(other_agency, name="李先生", phone="13900009000").status_code == 409
