"""The logs for the audit team: filters, pages, who may read them, and "who has seen" on the client page."""

import json
import re
from datetime import date, timedelta

import pytest

from villa.logs import PAGE_SIZE
from villa.models import AccessLog, AuditLog, User, office_day_start


def row_ids(response) -> list[int]:
    return [
        int(i) for i in re.findall(r'data-testid="log-row" data-id="(\d+)"', response.get_data(as_text=True))
    ]


def at_office_day(day: date, hours: int = 10):
    """A stored (UTC) timestamp `hours` into the office's day."""
    return office_day_start(day) + timedelta(hours=hours)


@pytest.fixture
def auditor(login_as):
    return login_as("auditor")


def test_access_log_filters_by_user_customer_action_and_dates(auditor, make_user, make_customer):
    alice, bob = make_user("manager", username="alice"), make_user("auditor", username="bob")
    first, second = make_customer(), make_customer()
    rows = {
        "alice_first": AccessLog.create(
            actor=alice, action="reveal", customer=first, fields="phone", at=at_office_day(date(2026, 3, 1))
        ),
        "alice_second": AccessLog.create(
            actor=alice,
            action="reveal",
            customer=second,
            fields="phone,id_number",
            at=at_office_day(date(2026, 3, 2)),
        ),
        "bob_export": AccessLog.create(
            actor=bob, action="export", fields="phone,name", at=at_office_day(date(2026, 3, 3), hours=23)
        ),
    }
    ids = {name: row.id for name, row in rows.items()}

    everything = auditor.get("/logs/")
    assert everything.status_code == 200
    assert row_ids(everything) == [ids["bob_export"], ids["alice_second"], ids["alice_first"]]
    assert row_ids(auditor.get(f"/logs/?user={alice.id}")) == [ids["alice_second"], ids["alice_first"]]
    assert row_ids(auditor.get(f"/logs/?customer={first.id}")) == [ids["alice_first"]]
    assert row_ids(auditor.get("/logs/?action=export")) == [ids["bob_export"]]
    # Office dates, both ends included: 23:00 on 3 March in Shanghai is still 3 March.
    assert row_ids(auditor.get("/logs/?date_from=2026-03-02&date_to=2026-03-03")) == [
        ids["bob_export"],
        ids["alice_second"],
    ]
    assert row_ids(auditor.get("/logs/?date_to=2026-03-01")) == [ids["alice_first"]]
    assert row_ids(auditor.get(f"/logs/?user={alice.id}&date_from=2026-03-02")) == [ids["alice_second"]]
    bad = auditor.get("/logs/?date_from=yesterday")
    assert bad.status_code == 200 and 'data-testid="error-date_from"' in bad.get_data(as_text=True)
    assert len(row_ids(bad)) == 3  # a bad filter is shown and ignored


def test_audit_log_shows_changes_in_words_never_personal_values(auditor, make_user, make_customer):
    rep = make_user("rep", display_name="李娜")
    customer = make_customer(owner=rep, phone="+8613912340000")
    AuditLog.create(
        actor=rep,
        action="field_changed",
        customer=customer,
        target=f"customer:{customer.id}",
        changes=json.dumps({"phone": "changed", "budget": {"old": "300万", "new": "500万"}}),
    )
    AuditLog.create(actor=rep, action="grade_changed", customer=customer, changes=json.dumps({"grade": "A"}))

    page = auditor.get("/logs/?tab=audit&action=field_changed")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(row_ids(page)) == 1
    assert "李娜 修改了手机号码（不记录内容）" in html
    assert "李娜 把预算从 300万 改为 500万" in html
    assert "13912340000" not in html and "field_changed" not in html.replace('value="field_changed"', "")
    options = auditor.get("/logs/?tab=audit").get_data(as_text=True)
    assert 'value="field_changed"' in options and 'value="grade_changed"' in options
    assert "资料变更" in options and "意向等级" in options
    assert len(row_ids(auditor.get(f"/logs/?tab=audit&customer={customer.id}"))) == 2


def test_keyset_pages_of_fifty_newest_first(auditor, make_user, make_customer):
    manager, customer = make_user("manager"), make_customer()
    AccessLog.insert_many(
        [{"actor": manager.id, "action": "reveal", "customer": customer.id, "fields": "phone"}] * 120
    ).execute()
    first = auditor.get("/logs/")
    ids = row_ids(first)
    assert len(ids) == PAGE_SIZE and ids == sorted(ids, reverse=True)
    more = re.search(r'href="(/logs/\?[^"]*before=\d+[^"]*)"', first.get_data(as_text=True)).group(1)
    second = auditor.htmx_get(more.replace("&amp;", "&"))
    assert "<html" not in second.get_data(as_text=True)
    second_ids = row_ids(second)
    assert len(second_ids) == PAGE_SIZE and max(second_ids) < min(ids)
    third = auditor.get(f"/logs/?before={min(second_ids)}")
    assert len(row_ids(third)) == 20
    assert 'data-testid="more"' not in third.get_data(as_text=True)


def test_filters_carry_over_to_the_next_page(auditor, make_user, make_customer):
    manager, other = make_user("manager"), make_user("manager")
    customer = make_customer()
    rows = [{"actor": manager.id, "action": "reveal", "customer": customer.id, "fields": "phone"}] * 60
    AccessLog.insert_many(rows + [{**rows[0], "actor": other.id}] * 5).execute()
    html = auditor.get(f"/logs/?user={manager.id}").get_data(as_text=True)
    more = re.search(r'data-testid="more"', html) and re.search(r'href="([^"]*before=[^"]*)"', html).group(1)
    assert f"user={manager.id}" in more
    assert len(row_ids(auditor.get(more.replace("&amp;", "&")))) == 10


def test_the_person_filter_keeps_the_chosen_person_among_everyone(auditor, make_user):
    staff = [make_user("rep") for _ in range(30)]
    chosen = staff[17]
    html = auditor.get(f"/logs/?user={chosen.id}").get_data(as_text=True)
    picker = html[html.index('<select id="user"') : html.index("</select>", html.index('<select id="user"'))]
    assert picker.count("<option") == User.select().count() + 1  # everyone, and "Anyone"
    shown = f"{chosen.display_name} ({chosen.username})"
    assert f'<option value="{chosen.id}" selected>{shown}</option>' in picker
    assert picker.count(" selected") == 1


@pytest.mark.parametrize(
    "role, status", [("auditor", 200), ("admin", 200), ("rep", 403), ("manager", 403), ("reception", 403)]
)
def test_who_may_read_the_logs(login_as, role, status):
    session = login_as(role)
    for tab in ("access", "audit"):
        assert session.get(f"/logs/?tab={tab}").status_code == status


def test_logs_are_in_the_menu_of_auditors_and_admins_only(login_as):
    assert 'href="/logs/"' in login_as("auditor").get("/").get_data(as_text=True)
    assert 'href="/logs/"' not in login_as("manager").get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "before=1180591620717411303424",
        "customer=1180591620717411303424",
        "user=1180591620717411303424",
        "before=-3",
        "date_to=2026-02-30",
    ],
)
def test_odd_numbers_in_the_query_are_not_errors(auditor, query):
    assert auditor.get(f"/logs/?{query}").status_code == 200
    assert auditor.get(f"/logs/?tab=audit&{query}").status_code == 200


def test_no_route_writes_to_the_logs(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/logs")]
    assert rules
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_client_page_shows_who_has_seen_the_phone_to_managers(make_user, login, make_customer):
    manager = make_user("manager", display_name="林经理")
    rep = make_user("rep", manager=manager, display_name="陈顾问")
    customer = make_customer(owner=rep, id_number="11010519491231002X")
    manager_session, rep_session = login(manager), login(rep)
    page = manager_session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="who-saw"' in page and 'data-testid="who-saw-row"' not in page

    assert manager_session.post(f"/customers/{customer.id}/reveal", htmx=True).status_code == 200
    assert rep_session.post(f"/customers/{customer.id}/reveal", htmx=True).status_code == 200
    page = manager_session.get(f"/customers/{customer.id}").get_data(as_text=True)
    seen = re.findall(r'data-testid="who-saw-row">([^<]*)', page)
    assert len(seen) == 2
    assert seen[0].startswith("陈顾问") and seen[1].startswith("林经理")  # newest first
    assert customer.phone not in page.split('data-testid="who-saw"')[1]

    rep_page = rep_session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert rep_session.get(f"/customers/{customer.id}").status_code == 200
    assert 'data-testid="who-saw"' not in rep_page


def test_client_page_lists_at_most_twenty_reveals(make_user, login_as, make_customer):
    manager = make_user("manager")
    customer = make_customer()
    AccessLog.insert_many(
        [{"actor": manager.id, "action": "reveal", "customer": customer.id, "fields": "phone"}] * 25
    ).execute()
    page = login_as("auditor").get(f"/customers/{customer.id}").get_data(as_text=True)
    assert page.count('data-testid="who-saw-row"') == 20
