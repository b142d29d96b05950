"""The office's protection policy (settings → protection): what a reached contact renews, the longest
protection, the cap of protected customers per rep, the pool cooldown; each rule at its edge, with
the settings changed in the test."""

from datetime import timedelta

import pytest

from tests.helpers import registration_form as form
from villa import settings as office
from villa.followups import add_followup
from villa.labels import localdate
from villa.models import AuditLog, Customer, Setting, now
from villa.ownership import claim, release_lapsed
from villa.protection import OwnershipError, max_protection_end, protected_count

DEFAULT_POLICY = {
    "protection_renewal": {
        "visit": "full",
        "viewing": "full",
        "call": "short",
        "wechat": "short",
        "sms": "short",
    },
    "protection_days_short": 7,
    "protection_max_days": 90,
    "protected_customers_cap": 200,
    "pool_cooldown_days": 30,
}
POLICY_FORM = {
    "visit": "full",
    "viewing": "full",
    "call": "none",
    "wechat": "short",
    "sms": "none",
    "protection_days_short": "3",
    "protection_max_days": "60",
    "protected_customers_cap": "50",
    "pool_cooldown_days": "14",
}


def reload(customer):
    return Customer.get_by_id(customer.id)


def about(moment, expected):
    return abs(moment - expected) < timedelta(minutes=1)


@pytest.fixture
def admin(login_as):
    return login_as("admin")


@pytest.fixture
def rep(make_user):
    return make_user("rep", display_name="李娜")


def protected(make_customer, owner, days=10, **fields):
    return make_customer(owner=owner, protected_until=now() + timedelta(days=days), **fields)


# ---- The settings ----


def test_the_defaults_are_todays_rules(app):
    for key, value in DEFAULT_POLICY.items():
        assert office.read(key) == value


def test_the_admin_changes_the_policy_and_each_change_is_audited(admin):
    page = admin.get("/admin/settings/protection").get_data(as_text=True)
    assert 'data-testid="settings-protection"' in page
    response = admin.post("/admin/settings/protection", POLICY_FORM)
    assert response.status_code == 303
    assert office.read("protection_renewal") == {
        "visit": "full",
        "viewing": "full",
        "call": "none",
        "wechat": "short",
        "sms": "none",
    }
    assert (office.read("protection_days_short"), office.read("protection_max_days")) == (3, 60)
    assert (office.read("protected_customers_cap"), office.read("pool_cooldown_days")) == (50, 14)
    rows = AuditLog.select().where(AuditLog.action == "setting_changed")
    changed = {row.target: row.change_map for row in rows}
    assert changed["setting:protection_max_days"] == {"protection_max_days": [90, 60]}
    renewal = changed["setting:protection_renewal"]["protection_renewal"]
    assert renewal[0] == DEFAULT_POLICY["protection_renewal"]
    assert len(changed) == 5


@pytest.mark.parametrize(
    "field,value",
    [
        ("protection_max_days", "0"),
        ("protected_customers_cap", "many"),
        ("call", "always"),
        ("pool_cooldown_days", ""),
    ],
)
def test_a_refused_value_is_shown_at_its_field_and_nothing_is_saved(admin, field, value):
    response = admin.post("/admin/settings/protection", {**POLICY_FORM, field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html
    kept = {name: typed for name, typed in POLICY_FORM.items() if name != field and typed.isdigit()}
    assert all(f'value="{typed}"' in html for typed in kept.values()), "the typed values are kept"
    assert AuditLog.select().where(AuditLog.action == "setting_changed").count() == 0
    assert office.read("protection_max_days") == 90


# ---- What a reached contact renews ----


def test_each_kind_renews_as_the_policy_says(rep, make_customer):
    renewal = {**DEFAULT_POLICY["protection_renewal"], "call": "none", "wechat": "full"}
    Setting.write("protection_renewal", renewal)
    Setting.write("protection_days_short", 3)
    customer = protected(make_customer, rep, days=1)
    before = reload(customer).protected_until
    add_followup(customer, rep, "call", "接通了", reached=True)
    assert reload(customer).protected_until == before, "a call renews nothing now"
    add_followup(customer, rep, "sms", "回复了", reached=True)
    assert about(reload(customer).protected_until, now() + timedelta(days=3))
    add_followup(customer, rep, "wechat", "聊了户型", reached=True)
    assert about(reload(customer).protected_until, now() + timedelta(days=15))


def test_an_unreached_visit_renews_nothing(rep, make_customer):
    customer = protected(make_customer, rep, days=1)
    before = reload(customer).protected_until
    add_followup(customer, rep, "visit", "没见到", reached=False)
    assert reload(customer).protected_until == before


# ---- The longest protection ----


def test_renewal_stops_at_the_longest_protection_and_the_client_page_says_why(rep, make_customer, login):
    Setting.write("protection_max_days", 60)
    owned_since = now() - timedelta(days=55)
    customer = protected(make_customer, rep, days=1, owned_since=owned_since, registered_at=owned_since)
    add_followup(customer, rep, "visit", "带家人看房", reached=True)
    fresh = reload(customer)
    assert fresh.protected_until == owned_since + timedelta(days=60) == max_protection_end(fresh)
    html = login(rep).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="protection-maximum"' in html
    assert f"最长保护期至 {localdate(fresh.protected_until)}" in html


def test_the_client_page_shows_the_plain_period_below_the_maximum(rep, make_customer, login):
    customer = protected(make_customer, rep, days=10, owned_since=now())
    html = login(rep).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="protection-maximum"' not in html
    assert localdate(reload(customer).protected_until) in html


def test_past_the_longest_protection_only_a_deal_stage_keeps_the_customer(rep, make_customer):
    Setting.write("protection_max_days", 30)
    edge = now() - timedelta(days=30)
    inside = protected(make_customer, rep, owned_since=edge + timedelta(minutes=5), stage="visited")
    past = protected(make_customer, rep, owned_since=edge - timedelta(minutes=5), stage="visited")
    # A customer from before owned_since was kept counts from the registration.
    legacy = protected(make_customer, rep, registered_at=edge - timedelta(days=1), stage="registered")
    pledged = protected(make_customer, rep, owned_since=edge - timedelta(days=100), stage="pledged")
    released = release_lapsed()
    assert sorted(released) == sorted([past.id, legacy.id])
    assert reload(inside).owner_id == rep.id and reload(pledged).owner_id == rep.id
    assert (reload(past).owner_id, reload(past).previous_owner_id) == (None, rep.id)
    row = AuditLog.get(AuditLog.action == "released_to_pool", AuditLog.customer == past.id)
    assert row.change_map == {"from": rep.username, "why": "longest_protection"}


def test_the_day_of_expiry(rep, make_customer):
    ends = now() + timedelta(days=2)
    customer = make_customer(owner=rep, protected_until=ends, owned_since=now())
    assert release_lapsed(ends - timedelta(seconds=1)) == []
    assert release_lapsed(ends + timedelta(seconds=1)) == [customer.id]


# ---- The cap of protected customers ----


def test_the_desk_cannot_register_beyond_the_cap(rep, make_customer, login_as):
    Setting.write("protected_customers_cap", 2)
    protected(make_customer, rep)
    lapsed = make_customer(owner=rep, protected_until=now() - timedelta(hours=1))
    protected(make_customer, rep, stage="signed")  # a deal is not held by protection
    desk = login_as("reception")
    first = desk.post("/reception/register", form(rep=str(rep.id), phone="139 0000 0001"))
    assert first.status_code == 303, "one below the cap: registered"
    assert protected_count(rep) == 2
    refused = desk.post("/reception/register", form(rep=str(rep.id), phone="139 0000 0002", name="赵六"))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'data-testid="error-rep"' in html and "李娜 已有 2 位保护中的客户" in html
    assert 'value="赵六"' in html, "typed values kept"
    assert Customer.select().where(Customer.name == "赵六").count() == 0
    # Once one of them lapses a place is free again.
    Customer.update(protected_until=now() - timedelta(hours=1)).where(Customer.id != lapsed.id).execute()
    again = desk.post("/reception/register", form(rep=str(rep.id), phone="139 0000 0002", name="赵六"))
    assert again.status_code == 303


def test_a_rep_at_the_cap_is_told_on_the_form(rep, make_customer, login):
    Setting.write("protected_customers_cap", 1)
    protected(make_customer, rep)
    response = login(rep).post("/reception/register", form(name="钱七"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="form-error"' in html and 'value="钱七"' in html
    assert Customer.select().count() == 1


def test_a_claim_beyond_the_cap_is_refused_on_its_row(rep, make_customer, login):
    Setting.write("protected_customers_cap", 1)
    protected(make_customer, rep)
    pooled = make_customer(owner=None, in_public_pool=True, pool_since=now() - timedelta(days=40))
    response = login(rep).post(f"/pool/{pooled.id}/claim")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    row = html[html.index(f'data-testid="pool-row-{pooled.id}"') :]
    assert 'data-testid="claim-refused"' in row[: row.index("</tr>")]
    assert reload(pooled).in_public_pool


def test_a_manager_cannot_reassign_past_the_cap_but_a_deal_moves(make_user, make_customer, login):
    """The cap holds however a rep receives a protected customer: the desk, the pool, a manager."""
    Setting.write("protected_customers_cap", 1)
    manager = make_user("manager", display_name="王经理")
    full = make_user("rep", manager=manager, display_name="李娜")
    other = make_user("rep", manager=manager)
    protected(make_customer, full)
    customer, deal = make_customer(owner=other), make_customer(owner=other, stage="subscribed")
    boss = login(manager)
    refused = boss.post(
        f"/customers/{customer.id}/reassign", {"owner_id": full.id, "reason": "休假"}, htmx=True
    )
    assert refused.status_code == 422
    assert "李娜 已有 1 位保护中的客户" in refused.get_data(as_text=True)
    assert reload(customer).owner_id == other.id and not AuditLog.select().where(
        AuditLog.action == "reassigned"
    )
    # A customer in a deal is not held by protection: it counts against no cap.
    moved = boss.post(f"/customers/{deal.id}/reassign", {"owner_id": full.id, "reason": "休假"})
    assert moved.status_code == 303 and reload(deal).owner_id == full.id


def test_a_move_that_would_take_a_rep_past_the_cap_moves_nothing(make_user, make_customer, login, login_as):
    Setting.write("protected_customers_cap", 3)
    manager = make_user("manager")
    lina = make_user("rep", manager=manager, display_name="李娜")
    zhang = make_user("rep", manager=manager, display_name="张伟")
    protected(make_customer, lina)
    ticked = [make_customer(owner=zhang) for _ in range(3)]
    boss = login(manager)
    data = {"ids": [c.id for c in ticked], "destination": "rep", "to_rep": lina.id, "reason": "调岗"}
    refused = boss.post("/customers/transfer", data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'data-testid="error-to_rep"' in html
    assert "李娜 将有 4 位保护中的客户" in html
    assert [reload(c).owner_id for c in ticked] == [zhang.id] * 3
    data["ids"] = [c.id for c in ticked[:2]]  # up to the cap: moved
    assert boss.post("/customers/transfer", data).status_code == 303
    assert protected_count(lina) == 3
    # A leaving rep's customers: the same rule; the rep stays enabled when nothing moves.
    admin = login_as("admin")
    response = admin.post(f"/admin/users/{zhang.id}/handover", {"destination": "rep", "to_rep": lina.id})
    assert response.status_code == 422 and "李娜 将有 4 位保护中的客户" in response.get_data(as_text=True)
    assert zhang.__class__.get_by_id(zhang.id).active is True
    assert admin.post(f"/admin/users/{zhang.id}/handover", {"destination": "pool"}).status_code == 303


# ---- The cooldown ----


def test_the_previous_owner_waits_out_the_cooldown(rep, make_user, make_customer, login):
    Setting.write("pool_cooldown_days", 10)
    customer = make_customer(owner=rep, protected_until=now() - timedelta(hours=1), owned_since=now())
    release_lapsed()
    session = login(rep)
    page = session.get("/pool/").get_data(as_text=True)
    assert f'data-testid="cooldown-{customer.id}"' in page
    assert f'data-testid="claim-{customer.id}"' not in page
    refused = session.post(f"/pool/{customer.id}/claim")
    assert refused.status_code == 422
    assert "李娜 曾让该客户掉入公客池" in refused.get_data(as_text=True)
    assert reload(customer).in_public_pool
    # One minute before the cooldown ends: still refused; one minute after: theirs again.
    pool_since = now() - timedelta(days=10)
    Customer.update(pool_since=pool_since + timedelta(minutes=1)).execute()
    with pytest.raises(OwnershipError):
        claim(reload(customer), rep)
    Customer.update(pool_since=pool_since - timedelta(minutes=1)).execute()
    assert session.post(f"/pool/{customer.id}/claim").status_code == 303
    assert reload(customer).owner_id == rep.id


def test_another_rep_may_claim_during_the_cooldown(rep, make_user, make_customer, login):
    customer = make_customer(owner=rep, protected_until=now() - timedelta(hours=1), owned_since=now())
    release_lapsed()
    other = make_user("rep")
    assert login(other).post(f"/pool/{customer.id}/claim").status_code == 303
    fresh = reload(customer)
    assert fresh.owner_id == other.id and about(fresh.owned_since, now())


# ---- A return visit logged at the desk ----


@pytest.mark.parametrize("kind,days", [("visit", 15), ("call", 7)])
def test_a_desk_return_visit_renews_the_owners_protection(rep, make_customer, login_as, kind, days):
    customer = protected(make_customer, rep, days=1, owned_since=now())
    desk = login_as("reception")
    response = desk.post(f"/reception/customers/{customer.id}/return-visit", {"kind": kind, "note": ""})
    assert response.status_code == 303
    fresh = reload(customer)
    assert about(fresh.protected_until, now() + timedelta(days=days))
    row = AuditLog.get(AuditLog.action == "return_visit")
    assert row.change_map["protected_until"][1] == localdate(fresh.protected_until)
