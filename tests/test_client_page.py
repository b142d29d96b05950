"""The client page and the list: who sees and does what, the timeline, filters, the rep's day."""

from datetime import timedelta

import pytest

from villa.models import AccessLog, Customer, office_today
from villa.ownership import open_dispute
from villa.registration import log_return_visit

ACTORS = ("owner", "other_rep", "manager", "other_manager", "auditor", "reception", "admin")
# What each actor gets: view page, reveal numbers, add a follow-up, edit a field.
EXPECTED = {
    "owner": (200, 200, 200, 200),
    "other_rep": (200, 403, 403, 403),
    "manager": (200, 200, 200, 200),
    "other_manager": (200, 403, 403, 403),
    "auditor": (200, 200, 403, 403),
    "reception": (200, 403, 403, 403),
    "admin": (200, 403, 403, 403),
}


@pytest.fixture
def cast(make_user, make_customer, login):
    """A customer owned by a rep on the manager's team, and a session for each actor."""
    manager = make_user("manager")
    owner = make_user("rep", manager=manager)
    customer = make_customer(owner=owner, name="张三丰", phone="13912345678", id_number="11010519491231002X")
    users = {
        "owner": owner,
        "other_rep": make_user("rep", manager=make_user("manager")),
        "manager": manager,
        "other_manager": make_user("manager"),
        "auditor": make_user("auditor"),
        "reception": make_user("reception"),
        "admin": make_user("admin"),
    }
    return customer, {name: login(user) for name, user in users.items()}


@pytest.mark.parametrize("actor", ACTORS)
def test_masking_and_permission_matrix(cast, actor):
    customer, sessions = cast
    session = sessions[actor]
    view, reveal, followup, edit = EXPECTED[actor]
    page = session.get(f"/customers/{customer.id}")
    assert page.status_code == view
    if view == 200:
        html = page.get_data(as_text=True)
        assert "13912345678" not in html and "139 1234 5678" not in html
        assert "11010519491231002X" not in html
        assert ('data-testid="reveal"' in html) == (reveal == 200)
    assert session.post(f"/customers/{customer.id}/reveal", htmx=True).status_code == reveal
    added = session.post(
        f"/customers/{customer.id}/followups", {"kind": "call", "content": "电话沟通，约周六看房"}, htmx=True
    )
    assert added.status_code == followup
    edited = session.post(f"/customers/{customer.id}/fields/budget", {"budget": "2000万+"}, htmx=True)
    assert edited.status_code == edit
    stored = Customer.get_by_id(customer.id)
    assert (stored.budget == "2000万+") == (edit == 200)
    assert AccessLog.select().count() == (1 if reveal == 200 else 0)


def test_timeline_shows_visits_followups_and_changes_newest_first(make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, name="钱七")
    log_return_visit(customer, make_user("reception"), "visit", "带家人来")
    session = login(owner)
    session.post(
        f"/customers/{customer.id}/followups", {"kind": "call", "content": "已电话回访", "reached": "y"}
    )
    session.post(f"/customers/{customer.id}/fields/budget", {"budget": "1500-2000万"})
    html = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    timeline = html.split('data-testid="timeline"', 1)[1]
    budget, followup, visit = (timeline.find(s) for s in ("1500-2000万", "已电话回访", "带家人来"))
    assert -1 < budget < followup < visit


def test_phone_change_shows_as_changed_never_the_numbers(make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, phone="13912345678")
    session = login(owner)
    assert session.post(f"/customers/{customer.id}/fields/phone", {"phone": "13700001111"}).status_code == 303
    html = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="event-field_changed"' in html
    assert "13700001111" not in html and "137 0000 1111" not in html and "13912345678" not in html


def test_list_filters_and_pagination(make_user, login_as, make_customer):
    rep = make_user("rep")
    for n in range(30):
        make_customer(owner=rep, name=f"客户{chr(0x4E00 + n)}", grade="A" if n % 3 == 0 else "C")
    session = login_as("manager")
    first = session.get("/customers/", query_string={"grade": "A"}).get_data(as_text=True)
    assert first.count('class="badge grade-A"') == 10 and 'grade-C"' not in first
    page1 = session.htmx_get("/customers/").get_data(as_text=True)
    assert page1.count("<tr>") == 25 and 'data-testid="more"' in page1
    more_url = page1.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    page2 = session.htmx_get(more_url).get_data(as_text=True)
    assert page2.count("<tr>") == 5 and 'data-testid="more"' not in page2


def test_due_and_overdue_filters(make_user, login, make_customer):
    rep = make_user("rep")
    make_customer(owner=rep, name="今天", next_followup_on=office_today())
    make_customer(owner=rep, name="过期", next_followup_on=office_today() - timedelta(days=2))
    make_customer(owner=rep, name="以后", next_followup_on=office_today() + timedelta(days=2))
    session = login(rep)
    today = session.get("/customers/?due=today").get_data(as_text=True)
    overdue = session.get("/customers/?due=overdue").get_data(as_text=True)
    # The rep's own customers: names in full.
    assert "今天" in today and "过期" not in today and "以后" not in today
    assert "过期" in overdue and "今天" not in overdue


def test_the_reps_day(make_user, login, make_customer):
    from villa.models import now

    rep = make_user("rep")
    make_customer(owner=rep, name="今天打", next_followup_on=office_today())
    make_customer(owner=rep, name="逾期打", next_followup_on=office_today() - timedelta(days=1))
    make_customer(owner=rep, name="快到期", protected_until=now() + timedelta(days=2))
    make_customer(owner=rep, name="被驳回", review_status="rejected")
    other = make_user("rep")
    make_customer(owner=other, name="别人的", next_followup_on=office_today())
    make_customer(owner=other, name="别人逾期", next_followup_on=office_today() - timedelta(days=2))
    make_customer(owner=other, name="别人快到", protected_until=now() + timedelta(days=1))
    html = login(rep).get("/").get_data(as_text=True)
    for testid, name in (
        ("due-today", "今天打"),
        ("overdue", "逾期打"),
        ("protection-ending", "快到期"),
        ("to-fix", "被驳回"),
    ):
        section = html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]
        assert name in section
    assert "别人" not in html


def test_disputed_customer_name_is_masked_for_the_claimant(make_user, login, make_customer):
    owner, claimant = make_user("rep"), make_user("rep")
    customer = make_customer(owner=owner, name="孙悟空")
    open_dispute(customer, claimant, "我先接待")
    assert "孙悟空" not in login(claimant).get("/").get_data(as_text=True)
    assert "孙悟空" in login(owner).get("/").get_data(as_text=True)
