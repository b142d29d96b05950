"""The client page and the list: who sees and does what, the timeline, filters, the rep's day."""

import logging
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import before_render_template, template_rendered

from villa.client_page import client_page
from villa.customers import customer_by_id
from villa.models import AccessLog, Channel, Customer, office_today
from villa.ownership import open_dispute
from villa.registration import Registration, log_return_visit, register

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


def _registered_by(receiver, owner, visit_type="call"):
    entry = Registration(
        name="张三丰",
        phone="13912345678",
        gender="M",
        visit_type=visit_type,
        channel=Channel.get(Channel.code == "walk_in"),
        owner=owner,
    )
    return register(receiver, entry)


def _first_visit(html: str) -> str:
    return re.search(r'<li class="timeline-item visit".*?</li>', html, re.S).group(0)


def test_the_desk_right_after_registering_is_not_told_it_may_not_change_the_customer(make_user, login):
    desk, owner = make_user("reception", display_name="前台小周"), make_user("rep", display_name="李娜")
    customer = _registered_by(desk, owner)
    html = login(desk).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "张三丰" in html
    assert 'data-testid="read-only"' not in html and "无权修改" not in html
    visit = _first_visit(html)
    assert "来电" in visit and "接待人：前台小周" in visit and "置业顾问：李娜" in visit
    # Who may look but not change, and is not the desk, is still told so.
    auditor_page = login(make_user("auditor")).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="read-only"' in auditor_page


def test_a_rep_who_received_her_own_customer_is_named_once(make_user, login):
    rep = make_user("rep", display_name="李娜")
    customer = _registered_by(rep, rep, "visit")
    visit = _first_visit(login(rep).get(f"/customers/{customer.id}").get_data(as_text=True))
    assert visit.count("李娜") == 1 and "首次登记" in visit


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
    assert page1.count('data-testid="customer-row"') == 25 and 'data-testid="more"' in page1
    more_url = page1.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    page2 = session.htmx_get(more_url).get_data(as_text=True)
    assert page2.count('data-testid="customer-row"') == 5 and 'data-testid="more"' not in page2


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


def test_a_long_list_on_the_reps_day_shows_its_first_rows_and_links_to_all(make_user, login, make_customer):
    from villa.home import HOME_LIST_LIMIT

    rep = make_user("rep")
    for n in range(HOME_LIST_LIMIT + 3):
        make_customer(owner=rep, name=f"今天{n:02d}", next_followup_on=office_today())
    make_customer(owner=rep, name="逾期打", next_followup_on=office_today() - timedelta(days=1))
    session = login(rep)
    html = session.get("/").get_data(as_text=True)
    section = html.split('data-testid="due-today"', 1)[1].split("</section>", 1)[0]
    assert section.count("<li>") == HOME_LIST_LIMIT
    link = re.search(r'href="([^"]+)" data-testid="due-today-all">([^<]+)<', section)
    assert link.group(2) == f"查看全部{HOME_LIST_LIMIT + 3}位"
    whole = session.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert all(f"今天{n:02d}" in whole for n in range(HOME_LIST_LIMIT + 3)) and "逾期打" not in whole
    overdue = html.split('data-testid="overdue"', 1)[1].split("</section>", 1)[0]
    assert "逾期打" in overdue and "overdue-all" not in overdue  # the whole list is on the page


def test_disputed_customer_name_is_masked_for_the_claimant(make_user, login, make_customer):
    owner, claimant = make_user("rep"), make_user("rep")
    customer = make_customer(owner=owner, name="孙悟空")
    open_dispute(customer, claimant, "我先接待")
    assert "孙悟空" not in login(claimant).get("/").get_data(as_text=True)
    assert "孙悟空" in login(owner).get("/").get_data(as_text=True)


# ---- One home: the page is gathered by villa.client_page, and the templates only render it ----


class Queries(logging.Handler):
    """Every SQL statement peewee runs (it logs each one at DEBUG), marked when it ran while a
    template was being rendered."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.rendering, self.all, self.from_templates = 0, [], []

    def emit(self, record):
        self.all.append(record.getMessage())
        if self.rendering:
            self.from_templates.append(record.getMessage())


@contextmanager
def counted_queries(app):
    queries, log = Queries(), logging.getLogger("peewee")
    level = log.level

    def started(sender, **extra):
        queries.rendering += 1

    def finished(sender, **extra):
        queries.rendering -= 1

    log.addHandler(queries)
    log.setLevel(logging.DEBUG)
    before_render_template.connect(started, app)
    template_rendered.connect(finished, app)
    try:
        yield queries
    finally:
        template_rendered.disconnect(finished, app)
        before_render_template.disconnect(started, app)
        log.removeHandler(queries)
        log.setLevel(level)


@pytest.fixture
def lived(cast, make_user):
    """The cast's customer with a story: a follow-up, a change, a reveal, a review, a visit."""
    customer, sessions = cast
    owner = sessions["owner"]
    owner.post(f"/customers/{customer.id}/followups", {"kind": "call", "content": "电话沟通", "reached": "y"})
    owner.post(f"/customers/{customer.id}/fields/budget", {"budget": "2000万+"})
    owner.post(f"/customers/{customer.id}/reveal", htmx=True)
    sessions["manager"].post(f"/review/{customer.id}/reject", {"reason": "电话不全"})
    log_return_visit(Customer.get_by_id(customer.id), make_user("reception"), "visit", "带家人来")
    return customer, sessions


@pytest.mark.parametrize("actor", ACTORS)
def test_rendering_the_client_page_runs_no_query(app, lived, actor):
    customer, sessions = lived
    with counted_queries(app) as queries:
        page = sessions[actor].get(f"/customers/{customer.id}")
    assert page.status_code == 200
    assert queries.all, "the query log was not read"
    assert queries.from_templates == [], f"{actor}: templates ran {queries.from_templates}"


PLEDGE = {"unit_number": "A-12", "area": "286.5", "price": "200000", "deal_date": "2026-01-05"}
PLEDGE["payment"] = "full"


def test_the_answers_to_saves_render_without_a_query(app, lived):
    customer, sessions = lived
    owner, url = sessions["owner"], f"/customers/{customer.id}"
    with counted_queries(app) as queries:
        saves = [
            owner.post(f"{url}/fields/budget", {"budget": "1500-2000万"}, htmx=True),
            owner.post(f"{url}/stage", {"stage": "pledged", **PLEDGE}, htmx=True),
            owner.post(f"{url}/followups", {"kind": "visit", "content": "来看房", "grade": "A"}, htmx=True),
        ]
    assert [r.status_code for r in saves] == [200, 200, 200]
    assert queries.from_templates == [], queries.from_templates


# What client_page() gives each viewer: (may write, may reveal, contact rows, purchasing power rows,
# who saw it shown, may reassign, may erase, may make a correction link).
GATHERED = {
    "owner": (True, True, 8, 3, False, False, False, True),
    "other_rep": (False, False, 0, 0, False, False, False, False),
    "manager": (True, True, 8, 3, True, True, False, True),
    "other_manager": (False, False, 0, 0, False, False, False, False),
    "auditor": (False, True, 0, 3, True, False, False, False),
    "reception": (False, False, 0, 0, False, False, False, False),
    "admin": (False, False, 0, 0, False, False, True, False),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_client_page_gathers_what_the_viewer_may_see_and_do(lived, actor):
    customer, sessions = lived
    page = client_page(sessions[actor].user, Customer.get_by_id(customer.id))
    seen = (
        page.may_write,
        page.may_reveal,
        len(page.sections["contact"]),
        len(page.sections["purchasing_power"]),
        page.who_saw is not None,
        page.may_reassign,
        page.may_erase,
        page.corrections.may_create_link,
    )
    assert seen == GATHERED[actor]
    assert page.header.name == ("张三丰" if actor in ("owner", "manager", "auditor") else "张**")
    assert page.contact.phone == "139****5678" and not page.contact.revealed
    in_full = actor in ("owner", "manager", "auditor")
    assert (page.card is None) == in_full  # everyone else gets the 判客 card only
    assert [row.editable for row in page.sections["needs"]] == ([page.may_write] * 5 if in_full else [])
    assert bool(page.review.decisions) == in_full and page.review.reasons_shown == page.may_reveal
    assert bool(page.entries) == in_full
    if page.who_saw is not None:
        assert [seen.who for seen in page.who_saw] == [sessions["owner"].user.display_name]


def test_no_template_global_serves_the_client_page(app):
    gone = {
        "profile_field",
        "field_display",
        "new_stage_form",
        "review_history",
        "may_resubmit",
        "correction_link_allowed",
        "corrections_waiting",
        "who_saw",
        "may_see_who_saw",
        "erasure_form",
    }
    assert gone.isdisjoint(app.jinja_env.globals)


# ---- Forms loaded when their section is opened ----

# Fragment URL -> who gets the form (every other actor of the cast gets 403).
FRAGMENTS = {
    "stage": {"owner", "manager"},
    "reassign": {"manager"},
    "erasure": {"admin"},
}
FORM_MARKS = {
    "stage": 'name="stage"',
    "reassign": 'data-testid="reassign-form"',
    "erasure": 'data-testid="erase"',
}
SECTION_MARKS = {
    "stage": 'data-testid="stage-change"',
    "reassign": 'data-testid="reassign"',
    "erasure": 'data-testid="erasure"',
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("section", FRAGMENTS)
def test_forms_load_when_their_section_opens_for_who_may_use_them(cast, actor, section):
    customer, sessions = cast
    session = sessions[actor]
    url = f"/customers/{customer.id}/{section}"
    page = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    allowed = actor in FRAGMENTS[section]
    assert (SECTION_MARKS[section] in page) == allowed
    assert FORM_MARKS[section] not in page, "the form is drawn before its section is opened"
    fragment = session.htmx_get(url)
    assert fragment.status_code == (200 if allowed else 403)
    if allowed:
        html = fragment.get_data(as_text=True)
        assert FORM_MARKS[section] in html and "<html" not in html
        # Without JavaScript the section's link opens the form on a small page.
        assert f'href="{url}"' in page
        alone = session.get(url).get_data(as_text=True)
        assert FORM_MARKS[section] in alone and "<html" in alone


def test_the_erasure_section_of_a_signed_customer_says_why_not(cast):
    customer, sessions = cast
    Customer.update(stage="signed").where(Customer.id == customer.id).execute()
    html = sessions["admin"].htmx_get(f"/customers/{customer.id}/erasure").get_data(as_text=True)
    assert 'data-testid="erasure-signed"' in html and 'data-testid="erase"' not in html


def test_the_erasure_page_without_javascript_keeps_the_name_masked(cast):
    customer, sessions = cast
    html = sessions["admin"].get(f"/customers/{customer.id}/erasure").get_data(as_text=True)
    assert "张三丰" not in html and "张**" in html


def test_the_header_and_timeline_refetches_are_gone(cast):
    customer, sessions = cast
    owner = sessions["owner"]
    page = owner.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "customer-changed" not in page
    assert owner.htmx_get(f"/customers/{customer.id}/header").status_code == 404
    assert owner.htmx_get(f"/customers/{customer.id}/timeline").status_code == 404


def test_a_loaded_customer_saves_only_what_changed(make_user, make_customer):
    """customer_by_id reads the names the page shows with the row, and the row it gives writes back
    only the fields changed on it: a change someone made meanwhile to another field survives."""
    rep, desk = make_user("rep", display_name="刘洋"), make_user("reception", display_name="前台小王")
    customer = make_customer(owner=rep, registered_by=desk, name="张三丰")
    loaded = customer_by_id(customer.id)
    assert (loaded.owner_name, loaded.registrar_name, loaded.channel_name) == ("刘洋", "前台小王", "自然到访")
    assert not loaded.is_dirty()
    Customer.update(notes="经理刚补充的").where(Customer.id == customer.id).execute()
    loaded.grade = "A"
    loaded.save()
    stored = Customer.get_by_id(customer.id)
    assert (stored.grade, stored.notes, stored.owner_id) == ("A", "经理刚补充的", rep.id)
    assert customer_by_id(customer.id + 1000) is None
