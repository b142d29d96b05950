"""Correcting a customer's source channel and visit type (来访/来电): the owner's manager or the audit
team, with a reason; the change is on the timeline and sends the registration back to review."""

import pytest

from villa.models import AuditLog, Customer


@pytest.fixture
def office(make_user, make_customer):
    manager = make_user("manager", display_name="王经理")
    rep = make_user("rep", manager=manager, display_name="李娜")
    customer = make_customer(owner=rep, name="赵敏", channel="broker", review_status="approved")
    return {"manager": manager, "rep": rep, "customer": customer}


def fresh(customer):
    return Customer.get_by_id(customer.id)


def test_nobody_could_edit_the_channel_as_a_field(office, login):
    """The plain click-to-edit fields still do not take the channel: it has its own correction."""
    session = login(office["rep"])
    assert session.htmx_get(f"/customers/{office['customer'].id}/fields/channel/edit").status_code == 404


@pytest.mark.parametrize("who", ["manager", "auditor"])
def test_the_owners_manager_or_the_audit_team_corrects_the_channel(office, login, make_user, who):
    corrector = office["manager"] if who == "manager" else make_user("auditor", display_name="审核员")
    session = login(corrector)
    customer = office["customer"]
    page = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="correct-channel"' in page and 'data-testid="correct-visit_type"' in page
    form = session.htmx_get(f"/customers/{customer.id}/source/channel/edit")
    assert form.status_code == 200 and "<html" not in form.get_data(as_text=True)
    response = session.post(
        f"/customers/{customer.id}/source/channel",
        {"channel": "walk_in", "reason": "前台误选中介"},
        htmx=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="event-source_corrected"' in html and "前台误选中介" in html
    changed = fresh(customer)
    assert changed.channel.code == "walk_in" and changed.review_status == "pending_first"
    entry = AuditLog.get(AuditLog.action == "source_corrected")
    assert entry.actor_id == corrector.id and entry.customer_id == customer.id
    assert entry.change_map == {
        "channel": ["broker", "walk_in"],
        "reason": "前台误选中介",
        "review": "resubmitted",
    }
    rep_page = login(office["rep"]).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="event-source_corrected"' in rep_page and "前台误选中介" in rep_page
    assert 'data-testid="correct-channel"' not in rep_page


def test_the_visit_type_is_corrected_without_javascript(office, login):
    customer = office["customer"]
    response = login(office["manager"]).post(
        f"/customers/{customer.id}/source/visit_type",
        {"visit_type": "call", "reason": "客户是来电，不是到访"},
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/customers/{customer.id}"
    assert (fresh(customer).visit_type, fresh(customer).review_status) == ("call", "pending_first")


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"channel": "walk_in", "reason": "  "}, "reason", "Give the reason for the correction"),
        ({"channel": "walk_in"}, "reason", "Give the reason for the correction"),
        ({"channel": "no_such", "reason": "误选"}, "channel", "Choose a channel from the list"),
        ({"channel": "broker", "reason": "误选"}, "channel", "recorded already"),
    ],
)
def test_a_refused_correction_says_why_and_keeps_what_was_typed(office, login, data, field, message):
    session = login(office["manager"])
    session.get("/lang/en")
    customer = office["customer"]
    response = session.post(f"/customers/{customer.id}/source/channel", data, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert f'data-testid="error-{field}"' in html and message in html
    if data.get("reason", "").strip():
        assert data["reason"] in html
    assert fresh(customer).channel.code == "broker" and fresh(customer).review_status == "approved"
    assert AuditLog.select().where(AuditLog.action == "source_corrected").count() == 0


def test_the_rep_another_manager_the_desk_and_the_admin_may_not(office, login, make_user):
    customer = office["customer"]
    for user in (office["rep"], make_user("manager"), make_user("reception"), make_user("admin")):
        session = login(user)
        edit = session.htmx_get(f"/customers/{customer.id}/source/channel/edit")
        save = session.post(f"/customers/{customer.id}/source/channel", {"channel": "walk_in", "reason": "x"})
        assert (edit.status_code, save.status_code) == (403, 403), user.role
    assert fresh(customer).channel.code == "broker"
