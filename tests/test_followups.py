"""Follow-ups: adding one from the client page, what it does to the customer, corrections, who may."""

from datetime import timedelta

import pytest

from tests.helpers import oob_header
from villa.followups import FollowUpError, add_followup, refresh_followup_times, timeline_followups
from villa.labels import localdate
from villa.models import AuditLog, Customer, FollowUp, now, office_today


def post_followup(session, customer, htmx=True, **fields):
    data = {"kind": "call", "content": "电话沟通，客户下周带家人来看房"} | fields
    return session.post(f"/customers/{customer.id}/followups", data, htmx=htmx)


def reload(customer):
    return Customer.get_by_id(customer.id)


@pytest.fixture
def owned(make_user, make_customer):
    """A rep, their manager, and a customer of the rep's."""
    manager = make_user("manager", display_name="陈经理")
    owner = make_user("rep", manager=manager, display_name="李娜")
    customer = make_customer(owner=owner, name="张三丰")
    return owner, manager, customer


def test_owner_adds_a_followup_and_gets_the_row_and_a_fresh_form(owned, login):
    owner, _manager, customer = owned
    Customer.update(last_activity_at=now() - timedelta(days=10)).where(Customer.id == customer.id).execute()
    response = post_followup(login(owner), customer, content="客户对双拼感兴趣", result="约周六看样板间")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    entry = FollowUp.get()
    assert (entry.customer_id, entry.author_id) == (customer.id, owner.id)
    assert (entry.kind, entry.reached) == ("call", False)
    assert entry.content == "客户对双拼感兴趣" and entry.result == "约周六看样板间"
    assert f'id="followup-{entry.id}"' in html and 'data-testid="followup"' in html
    assert "客户对双拼感兴趣" in html and "李娜" in html
    # The row is the main content; the empty form comes back as a partial that replaces the old one.
    assert html.index('id="followup-') < html.index("<hx-partial")
    partial = html[html.index("<hx-partial") :]
    assert 'hx-target="#followup-form"' in partial and 'id="followup-form"' in partial
    assert "客户对双拼感兴趣" not in partial
    assert reload(customer).last_activity_at > now() - timedelta(minutes=1)
    audit = AuditLog.get(AuditLog.action == "followup_added")
    assert audit.change_map == {"followup": entry.id, "reached": False}
    assert "双拼" not in audit.changes, "the audit log holds no follow-up content"


def test_reached_followup_extends_protection(owned, login):
    owner, _manager, customer = owned
    customer.protected_until = now() + timedelta(days=1)
    customer.save()
    session = login(owner)
    assert post_followup(session, customer, kind="visit", reached="y").status_code == 200
    after = reload(customer).protected_until
    assert now() + timedelta(days=14) < after <= now() + timedelta(days=15), "a visit renews 15 days"
    assert FollowUp.get().reached is True


def test_reached_call_renews_only_the_short_period(owned, login):
    owner, _manager, customer = owned
    customer.protected_until = now() + timedelta(days=1)
    customer.save()
    assert post_followup(login(owner), customer, kind="wechat", reached="y").status_code == 200
    after = reload(customer).protected_until
    assert now() + timedelta(days=6) < after <= now() + timedelta(days=7), "a reached WeChat renews 7 days"


def test_unanswered_followup_leaves_protection_alone(owned, login):
    owner, _manager, customer = owned
    customer.protected_until = now() + timedelta(days=1)
    customer.save()
    before = reload(customer).protected_until
    assert post_followup(login(owner), customer).status_code == 200
    assert reload(customer).protected_until == before


def test_protection_never_shrinks(owned):
    owner, _manager, customer = owned
    customer.protected_until = far = now() + timedelta(days=100)
    customer.save()
    add_followup(customer, owner, "call", "回访", reached=True)
    assert reload(customer).protected_until == far


def test_next_date_is_set_and_a_due_date_is_cleared(owned, login):
    owner, _manager, customer = owned
    session = login(owner)
    next_week = office_today() + timedelta(days=7)
    response = post_followup(session, customer, next_at=next_week.isoformat(), reached="y")
    assert response.status_code == 200
    assert reload(customer).next_followup_on == next_week
    # The header in the answer shows the new date and the protection the contact renewed.
    header = oob_header(response.get_data(as_text=True))
    assert next_week.isoformat() in header
    assert localdate(reload(customer).protected_until) in header
    assert FollowUp.get().next_at == next_week
    # Without a new date, a date still in the future stays ...
    assert post_followup(session, customer).status_code == 200
    assert reload(customer).next_followup_on == next_week
    # ... and the follow-up that was due today is done.
    Customer.update(next_followup_on=office_today()).where(Customer.id == customer.id).execute()
    assert post_followup(session, customer).status_code == 200
    assert reload(customer).next_followup_on is None


def test_past_next_date_is_refused_and_nothing_is_saved(owned, login):
    owner, _manager, customer = owned
    yesterday = office_today() - timedelta(days=1)
    response = post_followup(login(owner), customer, next_at=yesterday.isoformat(), content="要保留的内容")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in html and 'id="followup-form"' in html
    assert 'data-testid="error-next_at"' in html
    assert "要保留的内容" in html, "what was typed is kept"
    assert FollowUp.select().count() == 0
    assert AuditLog.select().where(AuditLog.customer == customer.id).count() == 0
    assert reload(customer).next_followup_on is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"content": "   "}, "content"),
        ({"kind": "telegram"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"content": "长" * 1001}, "content"),
        ({"result": "x" * 201}, "result"),
        ({"grade": "Z"}, "grade"),
        ({"next_at": "not-a-date"}, "next_at"),
    ],
)
def test_invalid_input_is_422_with_the_message_next_to_the_field(owned, login, fields, error):
    owner, _manager, customer = owned
    response = post_followup(login(owner), customer, **fields)
    assert response.status_code == 422
    assert f'data-testid="error-{error}"' in response.get_data(as_text=True)
    assert FollowUp.select().count() == 0


def test_grade_change_updates_the_customer_and_is_audited(owned, login):
    owner, _manager, customer = owned
    assert reload(customer).grade == "C"
    response = post_followup(login(owner), customer, grade="A")
    assert response.status_code == 200
    assert reload(customer).grade == "A"
    # The same answer carries the header with the new grade, and the grade change for the timeline
    # right under the new row; nothing asks the page to fetch itself again.
    html = response.get_data(as_text=True)
    assert "HX-Trigger" not in response.headers
    assert 'data-testid="grade">A<' in oob_header(html)
    main = html[: html.index("<hx-partial")]
    assert main.index('data-testid="followup"') < main.index('data-testid="event-grade_changed"')
    assert FollowUp.get().grade == "A"
    audit = AuditLog.get(AuditLog.action == "grade_changed")
    assert (audit.actor_id, audit.customer_id) == (owner.id, customer.id)
    assert audit.change_map == {"grade": ["C", "A"]}


def test_same_grade_or_no_grade_changes_nothing(owned):
    owner, _manager, customer = owned
    add_followup(customer, owner, "sms", "发了项目资料", grade="C")
    add_followup(customer, owner, "sms", "又发了一次")
    assert reload(customer).grade == "C"
    assert [f.grade for f in FollowUp.select()] == [None, None]
    assert AuditLog.select().where(AuditLog.action == "grade_changed").count() == 0


def test_meeting_the_customer_moves_a_registration_to_visited(owned):
    owner, _manager, customer = owned
    add_followup(customer, owner, "viewing", "没来", reached=False)
    assert reload(customer).stage == "registered"
    add_followup(customer, owner, "call", "打通了", reached=True)
    assert reload(customer).stage == "registered"
    add_followup(customer, owner, "viewing", "带看了样板间", reached=True)
    assert reload(customer).stage == "visited"
    stage = AuditLog.get(AuditLog.action == "stage_changed")
    assert stage.change_map == {"stage": ["registered", "visited"]}


def test_correction_is_a_new_entry_and_the_original_stays(owned, login):
    owner, _manager, customer = owned
    original = add_followup(customer, owner, "call", "客户说预算八百万", result="待定")
    session = login(owner)
    form = session.htmx_get(f"/customers/{customer.id}/followups/{original.id}/correct")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "<html" not in html
    assert f'value="{original.id}"' in html and "客户说预算八百万" in html
    assert 'data-testid="followup-correcting"' in html

    response = post_followup(session, customer, content="客户说预算一千万", corrects=str(original.id))
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    correction = FollowUp.get(FollowUp.corrects == original.id)
    assert correction.content == "客户说预算一千万" and correction.id != original.id
    assert 'data-testid="followup-corrects"' in fragment
    # The original entry, marked as corrected, replaces itself on the page out of band.
    marked = fragment[fragment.index(f'id="followup-{original.id}"') :]
    assert marked.split(">", 1)[0].endswith('hx-swap-oob="true"')
    assert 'data-testid="followup-corrected-by"' in marked.split("</li>", 1)[0]
    unchanged = FollowUp.get_by_id(original.id)
    assert (unchanged.content, unchanged.result, unchanged.created_at) == (
        "客户说预算八百万",
        "待定",
        original.created_at,
    )
    added = [a.change_map for a in AuditLog.select().where(AuditLog.action == "followup_added")]
    assert {"followup": correction.id, "reached": False, "corrects": original.id} in added

    timeline = timeline_followups(customer)
    assert [f.id for f in timeline] == [correction.id, original.id]
    assert [c.id for c in timeline[1].corrections] == [correction.id]


def test_cannot_correct_another_customers_entry(owned, login, make_customer):
    owner, _manager, customer = owned
    elsewhere = add_followup(make_customer(owner=owner), owner, "call", "另一个客户")
    session = login(owner)
    response = post_followup(session, customer, corrects=str(elsewhere.id))
    assert response.status_code == 422
    assert 'data-testid="error-corrects"' in response.get_data(as_text=True)
    for bogus in ("abc", "999999"):
        assert post_followup(session, customer, corrects=bogus).status_code == 422
    assert FollowUp.select().count() == 1
    correct_url = f"/customers/{customer.id}/followups/{elsewhere.id}/correct"
    assert session.htmx_get(correct_url).status_code == 404
    with pytest.raises(FollowUpError):
        add_followup(customer, owner, "call", "改错", corrects=elsewhere.id)
    assert FollowUp.select().count() == 1


def done_times() -> dict:
    return {f.id: f.next_done_at for f in FollowUp.select()}


def test_a_followup_is_when_the_customers_waiting_due_ones_were_done(owned):
    owner, manager, customer = owned
    soon = office_today() + timedelta(days=3)
    first = add_followup(customer, owner, "call", "约周六看房", next_at=soon)
    plain = add_followup(customer, owner, "wechat", "发了价目表")  # sets no next date
    assert done_times() == {first.id: plain.created_at, plain.id: None}
    second = add_followup(customer, manager, "call", "再约", next_at=soon)
    third = add_followup(customer, owner, "visit", "到访看样板间")  # anyone's follow-up counts
    assert done_times() == {
        first.id: plain.created_at,  # done once: a later contact does not move it
        plain.id: None,
        second.id: third.created_at,
        third.id: None,
    }


def test_a_correction_is_the_next_contact_of_the_entry_it_corrects(owned):
    owner, _manager, customer = owned
    original = add_followup(customer, owner, "call", "约周六", next_at=office_today() + timedelta(days=2))
    correction = add_followup(customer, owner, "call", "约周日", corrects=original)
    assert done_times() == {original.id: correction.created_at, correction.id: None}


def test_the_customer_keeps_the_time_of_their_first_followup(owned):
    owner, manager, customer = owned
    assert customer.first_followup_at is None
    first = add_followup(customer, owner, "call", "第一次联系")
    assert customer.first_followup_at == first.created_at == reload(customer).first_followup_at
    add_followup(customer, manager, "call", "经理回访")
    assert reload(customer).first_followup_at == first.created_at


def test_saving_a_copy_loaded_before_a_followup_keeps_what_the_followup_wrote(owned):
    """A manager's page loaded the customer, a rep logs a call, the manager saves: both stay."""
    owner, _manager, customer = owned
    loaded_earlier = reload(customer)
    call = add_followup(customer, owner, "call", "约周六看房", next_at=office_today() + timedelta(days=3))
    loaded_earlier.lost_reason = "预算不足"
    loaded_earlier.save()
    saved = reload(customer)
    assert saved.lost_reason == "预算不足"
    assert saved.first_followup_at == call.created_at
    assert saved.next_followup_on == office_today() + timedelta(days=3)


def test_the_times_are_worked_out_again_from_followups_written_directly(owned):
    owner, _manager, customer = owned
    at, due = now() - timedelta(days=5), office_today()

    def write(moment, next_at=None):
        return FollowUp.create(
            customer=customer, author=owner, kind="call", content="补录", next_at=next_at, created_at=moment
        )

    later = write(at + timedelta(hours=1))
    first, same_moment = write(at, due), write(at, due)  # written at one moment: not each other's next
    refresh_followup_times([customer.id])
    assert done_times() == {later.id: None, first.id: later.created_at, same_moment.id: later.created_at}
    assert reload(customer).first_followup_at == at


def test_domain_refuses_a_past_date_and_an_unknown_kind(owned):
    owner, _manager, customer = owned
    with pytest.raises(FollowUpError):
        add_followup(customer, owner, "call", "x", next_at=office_today() - timedelta(days=1))
    with pytest.raises(FollowUpError):
        add_followup(customer, owner, "fax", "x")
    assert FollowUp.select().count() == 0


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", 200),
        ("other_rep", 403),
        ("team_manager", 200),
        ("other_manager", 403),
        ("auditor", 403),
        ("reception", 403),
        ("admin", 403),
    ],
)
def test_who_may_log_a_followup(owned, make_user, login, who, expected):
    owner, manager, customer = owned
    users = {
        "owner": owner,
        "other_rep": make_user("rep", manager=manager),
        "team_manager": manager,
        "other_manager": make_user("manager"),
    }
    user = users.get(who) or make_user(who)
    session = login(user)
    assert post_followup(session, customer).status_code == expected
    assert FollowUp.select().count() == (1 if expected == 200 else 0)
    assert session.htmx_get(f"/customers/{customer.id}/followups/new").status_code == expected
    if expected == 403:
        assert reload(customer).last_activity_at == customer.last_activity_at


def test_manager_may_log_on_a_rep_without_manager(make_user, login, make_customer):
    customer = make_customer(owner=make_user("rep"))
    assert post_followup(login(make_user("manager")), customer).status_code == 200


def test_archived_customer_is_read_only(owned, login):
    owner, _manager, customer = owned
    customer.archived_at = now()
    customer.save()
    assert post_followup(login(owner), customer).status_code == 403


def test_unknown_customer_is_404(login_as):
    session = login_as("rep")
    response = session.post("/customers/999999/followups", {"kind": "call", "content": "x"}, htmx=True)
    assert response.status_code == 404


def test_without_htmx_a_saved_followup_redirects_to_the_client_page(owned, login):
    owner, _manager, customer = owned
    session = login(owner)
    response = post_followup(session, customer, htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")
    assert FollowUp.select().count() == 1
    assert '<li class="success">' in session.get(response.headers["Location"]).get_data(as_text=True)


def test_without_htmx_invalid_input_is_a_full_page(owned, login):
    owner, _manager, customer = owned
    response = post_followup(login(owner), customer, htmx=False, content="")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" in html and 'id="followup-form"' in html and 'data-testid="error-content"' in html


def test_html_in_the_content_is_escaped(owned, login):
    owner, _manager, customer = owned
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = post_followup(login(owner), customer, content=attack, result="<b>bold</b>")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert FollowUp.get().content == attack
