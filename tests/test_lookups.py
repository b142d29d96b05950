"""Exact phone and ID lookups are reveals: logged when they find a customer the caller may not see in
full, limited per user (429 beyond, with the audit team alerted), never counted while typing.
Also the office's masked form of a number."""

from datetime import timedelta

import pytest

from villa import settings
from villa.identity import mask_id_number, mask_phone
from villa.models import AccessLog, AuditLog, RateEvent, Setting, now, office_day_start

PHONE, ID_NUMBER = "13912345678", "11010519491231002X"


@pytest.fixture
def team(make_user, make_customer):
    """A manager's rep owning 张三丰; a rep and a manager of another team; the audit team; the desk."""
    manager, other_manager = make_user("manager"), make_user("manager")
    users = {
        "owner": make_user("rep", manager=manager),
        "manager": manager,
        "other_rep": make_user("rep", manager=other_manager),
        "other_manager": other_manager,
        "auditor": make_user("auditor"),
        "reception": make_user("reception"),
        "admin": make_user("admin"),
    }
    customer = make_customer(
        owner=users["owner"],
        registered_by=users["owner"],
        registered_at=office_day_start() - timedelta(hours=2),
        name="张三丰",
        phone=PHONE,
        id_number=ID_NUMBER,
    )
    return users, customer


def lookups():
    return list(AccessLog.select().where(AccessLog.action == "lookup").order_by(AccessLog.id))


def limit(per_minute: int, per_day: int = 300):
    Setting.write("lookup_limit_per_minute", per_minute)
    Setting.write("lookup_limit_per_day", per_day)


def other_phone(n: int) -> str:
    return f"1371234{n:04d}"


# Lookup rows


@pytest.mark.parametrize(("q", "field"), [("139-1234-5678", "phone"), (ID_NUMBER.lower(), "id_number")])
@pytest.mark.parametrize("viewer", ("other_rep", "other_manager", "admin"))
def test_a_list_lookup_of_someone_elses_customer_is_logged(team, login, q, field, viewer):
    users, customer = team
    response = login(users[viewer]).htmx_get(
        "/customers/", query_string={"q": q}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 200
    assert f"/customers/{customer.id}" in response.get_data(as_text=True)
    [row] = lookups()
    assert (row.actor_id, row.customer_id, row.fields, row.ip) == (
        users[viewer].id,
        customer.id,
        field,
        "10.1.2.3",
    )
    assert row.at >= now() - timedelta(minutes=1)


@pytest.mark.parametrize("viewer", ("owner", "manager", "auditor"))
def test_a_lookup_of_a_customer_seen_in_full_is_not_logged(team, login, viewer):
    users, customer = team
    for q in (PHONE, ID_NUMBER):
        html = login(users[viewer]).htmx_get("/customers/", query_string={"q": q}).get_data(as_text=True)
        assert f"/customers/{customer.id}" in html
    assert lookups() == []


def test_a_lookup_that_finds_nobody_writes_no_row(team, login):
    users, _ = team
    login(users["other_rep"]).htmx_get("/customers/", query_string={"q": other_phone(1)})
    assert lookups() == []


@pytest.mark.parametrize(("viewer", "logged"), [("reception", True), ("other_rep", True), ("owner", False)])
def test_the_desk_check_is_a_lookup(team, login, viewer, logged):
    users, customer = team
    session = login(users[viewer])
    found = session.htmx_get("/reception/check", query_string={"phone": "+86 139 1234 5678"})
    assert 'data-testid="dup-warning"' in found.get_data(as_text=True)
    by_id = session.htmx_get("/reception/check", query_string={"id_number": ID_NUMBER, "id_type": "resident"})
    assert 'data-testid="dup-warning"' in by_id.get_data(as_text=True)
    rows = lookups()
    assert [(r.actor_id, r.customer_id, r.fields) for r in rows] == (
        [(users[viewer].id, customer.id, "phone"), (users[viewer].id, customer.id, "id_number")]
        if logged
        else []
    )


def test_the_export_filter_is_a_lookup(team, login):
    users, customer = team
    other = login(users["other_manager"])
    response = other.get("/customers/export.xlsx", query_string={"q": PHONE})
    assert response.status_code == 200
    assert [(r.actor_id, r.customer_id, r.fields) for r in lookups()] == [
        (users["other_manager"].id, customer.id, "phone")
    ]
    assert login(users["manager"]).get("/customers/export.xlsx", query_string={"q": PHONE}).status_code == 200
    assert len(lookups()) == 1, "the owner's manager sees the customer in full: no lookup row"
    assert AccessLog.select().where(AccessLog.action == "export").count() == 2


# Limits


def test_typing_is_never_counted_or_throttled(team, login):
    users, _ = team
    limit(per_minute=2, per_day=2)
    desk = login(users["reception"])
    rep = login(users["other_rep"])
    for n in range(60):
        partial = PHONE[: 3 + n % 8]  # 3 to 10 digits: a number being typed
        assert desk.htmx_get("/reception/check", query_string={"phone": partial}).status_code == 200
        assert (
            desk.htmx_get("/reception/check", query_string={"id_number": ID_NUMBER[: 6 + n % 11]}).status_code
            == 200
        )
        assert rep.htmx_get("/customers/", query_string={"q": partial}).status_code == 200
        assert rep.htmx_get("/customers/", query_string={"q": "张"}).status_code == 200
    assert RateEvent.select().count() == 0
    assert lookups() == []


def test_the_same_number_again_counts_once(team, login):
    users, _ = team
    limit(per_minute=2)
    desk = login(users["reception"])
    for _ in range(10):  # typing, then leaving the field: the form asks again
        assert desk.htmx_get("/reception/check", query_string={"phone": PHONE}).status_code == 200
    assert len(lookups()) == 1, "the same customer found again the same day is logged once"
    assert desk.htmx_get("/reception/check", query_string={"phone": other_phone(1)}).status_code == 200
    assert desk.htmx_get("/reception/check", query_string={"phone": other_phone(2)}).status_code == 429


def test_beyond_the_minute_limit_the_list_answers_429_and_alerts(team, login):
    users, customer = team
    limit(per_minute=3)
    rep = login(users["other_rep"])
    for n in range(3):
        assert rep.htmx_get("/customers/", query_string={"q": other_phone(n)}).status_code == 200
    refused = rep.htmx_get("/customers/", query_string={"q": PHONE})
    assert refused.status_code == 429
    fragment = refused.get_data(as_text=True)
    assert 'data-testid="lookup-limit"' in fragment and "1 分钟内" in fragment and "<html" not in fragment
    assert f"/customers/{customer.id}" not in fragment
    page = rep.get("/customers/", query_string={"q": PHONE})
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert 'data-testid="lookup-limit"' in html and "1 分钟内" in html
    assert f"/customers/{customer.id}" not in html
    assert lookups() == [], "a refused lookup finds nothing, so logs nothing"
    # One alert for the audit team, however many refusals follow.
    rep.htmx_get("/customers/", query_string={"q": other_phone(9)})
    [alert] = AuditLog.select().where(AuditLog.action == "alert_lookup_limit")
    assert alert.actor_id == users["other_rep"].id
    assert alert.change_map == {"period": "minute", "limit": 3}
    # Names still search: only complete numbers are limited.
    assert rep.htmx_get("/customers/", query_string={"q": "张"}).status_code == 200


def test_the_minute_limit_passes_with_the_minute(team, login):
    users, _ = team
    limit(per_minute=2)
    rep = login(users["other_rep"])
    for n in range(2):
        rep.htmx_get("/customers/", query_string={"q": other_phone(n)})
    assert rep.htmx_get("/customers/", query_string={"q": other_phone(5)}).status_code == 429
    RateEvent.update(at=now() - timedelta(seconds=61)).execute()
    assert rep.htmx_get("/customers/", query_string={"q": other_phone(5)}).status_code == 200


def test_beyond_the_day_limit_the_desk_check_answers_429(team, login):
    users, customer = team
    limit(per_minute=100, per_day=4)
    desk = login(users["reception"])
    for n in range(4):
        assert desk.htmx_get("/reception/check", query_string={"phone": other_phone(n)}).status_code == 200
    refused = desk.htmx_get("/reception/check", query_string={"id_number": ID_NUMBER})
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert 'data-testid="lookup-limit"' in html and "今天" in html
    assert 'data-testid="dup-warning"' not in html and "张" not in html
    # Yesterday's lookups do not count today.
    RateEvent.update(at=office_day_start() - timedelta(minutes=5)).execute()
    assert desk.htmx_get("/reception/check", query_string={"id_number": ID_NUMBER}).status_code == 200


def test_limits_are_per_user(team, login):
    users, _ = team
    limit(per_minute=1)
    assert (
        login(users["other_rep"]).htmx_get("/customers/", query_string={"q": other_phone(1)}).status_code
        == 200
    )
    assert (
        login(users["other_rep"]).htmx_get("/customers/", query_string={"q": other_phone(2)}).status_code
        == 429
    )
    assert (
        login(users["owner"]).htmx_get("/customers/", query_string={"q": other_phone(2)}).status_code == 200
    )


def test_the_export_filter_is_limited(team, login):
    users, _ = team
    limit(per_minute=1)
    manager = login(users["other_manager"])
    assert manager.get("/customers/export.xlsx", query_string={"q": other_phone(1)}).status_code == 200
    refused = manager.get("/customers/export.xlsx", query_string={"q": PHONE})
    assert refused.status_code == 429
    assert 'data-testid="error-429"' in refused.get_data(as_text=True)
    assert AccessLog.select().where(AccessLog.action == "export").count() == 1
    # A filter without a number is no lookup.
    assert manager.get("/customers/export.xlsx", query_string={"grade": "C"}).status_code == 200


def test_the_defaults_are_30_a_minute_and_300_a_day(app):
    assert settings.read("lookup_limit_per_minute") == 30
    assert settings.read("lookup_limit_per_day") == 300


def test_the_admin_sets_the_limits(team, login):
    users, _ = team
    admin = login(users["admin"])
    page = admin.get("/admin/settings/lookups").get_data(as_text=True)
    assert 'data-testid="settings-lookups"' in page and 'data-testid="nav-masking"' in page
    saved = admin.post(
        "/admin/settings/lookups", {"lookup_limit_per_minute": "5", "lookup_limit_per_day": "40"}
    )
    assert saved.status_code == 303
    assert (settings.read("lookup_limit_per_minute"), settings.read("lookup_limit_per_day")) == (5, 40)
    refused = admin.post(
        "/admin/settings/lookups", {"lookup_limit_per_minute": "50", "lookup_limit_per_day": "40"}
    )
    assert refused.status_code == 422
    assert 'value="50"' in refused.get_data(as_text=True)
    zero = admin.post(
        "/admin/settings/lookups", {"lookup_limit_per_minute": "0", "lookup_limit_per_day": "40"}
    )
    assert zero.status_code == 422
    assert settings.read("lookup_limit_per_minute") == 5
    rep = login(users["other_rep"])
    for n in range(5):
        assert rep.htmx_get("/customers/", query_string={"q": other_phone(n)}).status_code == 200
    assert rep.htmx_get("/customers/", query_string={"q": other_phone(9)}).status_code == 429


# The masked form


def test_masked_forms_keep_the_last_four():
    assert mask_phone("+8613912345678") == "139****5678"
    assert mask_phone("+8613912345678", keep_head=False) == "*******5678"
    assert mask_phone("+861088886666", keep_head=False) == "******6666"
    assert mask_phone("+85291234567", keep_head=False) == "+852 ****4567"
    assert mask_id_number(ID_NUMBER) == "1101**********002X"
    assert mask_id_number(ID_NUMBER, keep_head=False) == "**************002X"


def test_the_office_chooses_the_stricter_masked_form(team, login):
    users, customer = team
    admin = login(users["admin"])
    saved = admin.post(
        "/admin/settings/masking", {"masked_phone": "last_four", "masked_id_number": "last_four"}
    )
    assert saved.status_code == 303
    rep = login(users["other_rep"])
    # The admin lists every customer masked; a rep finds another's customer by the full number.
    listed = admin.get("/customers/").get_data(as_text=True)
    assert "*******5678" in listed and "139****5678" not in listed
    looked_up = rep.get("/customers/", query_string={"q": "13912345678"}).get_data(as_text=True)
    assert "*******5678" in looked_up and "139****5678" not in looked_up
    card = rep.get(f"/customers/{customer.id}").get_data(as_text=True)  # the 判客 card: no ID number
    assert "*******5678" in card and "139****" not in card and "002X" not in card
    page = login(users["auditor"]).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "*******5678" in page and "139****" not in page
    assert "**************002X" in page and "1101****" not in page
    assert (
        admin.post(
            "/admin/settings/masking", {"masked_phone": "none", "masked_id_number": "standard"}
        ).status_code
        == 422
    )


def test_lookups_of_ones_own_customers_do_not_count(team, login, make_customer):
    users, customer = team
    limit(per_minute=1)
    owner = login(users["owner"])
    mine = [make_customer(owner=users["owner"], phone=other_phone(n)) for n in range(5)]
    for c in [customer, *mine]:
        html = owner.htmx_get("/customers/", query_string={"q": c.phone}).get_data(as_text=True)
        assert f"/customers/{c.id}" in html
        assert owner.htmx_get("/reception/check", query_string={"phone": c.phone}).status_code == 200
    assert RateEvent.select().count() == 0
    # A number that finds nobody counts: the next one is past the limit of one.
    assert owner.htmx_get("/customers/", query_string={"q": other_phone(99)}).status_code == 200
    assert owner.htmx_get("/customers/", query_string={"q": other_phone(98)}).status_code == 429


def test_the_nightly_upkeep_removes_counters_past_every_window(team, login):
    """Counting no longer deletes as it goes: `villa daily` removes the lookup counters older than
    two days, and keeps today's (they still count) and other limits' rows."""
    from villa.daily import lookup_counters

    users, _ = team
    limit(per_minute=100, per_day=3)
    rep = login(users["other_rep"])
    for n in range(3):
        rep.htmx_get("/customers/", query_string={"q": other_phone(n)})
    RateEvent.create(key="lookup:1", at=now() - timedelta(days=3))
    RateEvent.create(key="lookup:1:phone:0123456789abcdef", at=now() - timedelta(days=3))
    RateEvent.create(key="report:address", at=now() - timedelta(days=3))
    assert lookup_counters().counts == {"pruned": 2}
    assert RateEvent.select().where(RateEvent.key == "report:address").count() == 1
    assert (
        RateEvent.select().where(RateEvent.key.startswith("lookup:")).count() == 6
    )  # 3 numbers, 2 rows each
    # Today's still count: the day's limit holds after the upkeep.
    assert rep.htmx_get("/customers/", query_string={"q": other_phone(9)}).status_code == 429
