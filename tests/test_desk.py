"""The desk as the receptionist's home: where she lands, what today's list says, and 签退 taken back."""

import re
from datetime import timedelta

import pytest

from villa import rotation
from villa.models import AuditLog, RotationEntry, Visit, now
from villa.registration import DESK_VISITS_LIMIT


@pytest.fixture
def desk(make_user):
    return make_user("reception", username="desk", display_name="王前台")


@pytest.fixture
def reps(make_user):
    return [make_user("rep", username=name, display_name=name.title()) for name in ("amy", "bob", "cat")]


def positions():
    return {entry.rep_username: entry.position for entry in rotation.queue()}


def order():
    return [entry.rep_username for entry in rotation.queue()]


def test_the_receptionist_lands_on_the_desk(desk, login):
    session = login(desk)
    home = session.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/reception/")
    page = session.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'data-testid="desk-heading"' in page and 'data-testid="rotation"' in page
    # Today's registrations: a count on the desk, the list one tap away.
    assert 'data-testid="count-registered_today"' in page and 'href="/reception/today"' in page
    assert session.get("/reception/today").status_code == 200


@pytest.mark.parametrize("role", ["rep", "manager", "auditor", "admin"])
def test_other_roles_keep_their_home(login_as, role):
    response = login_as(role).get("/")
    assert response.status_code == 200 and 'data-testid="desk-heading"' not in response.get_data(as_text=True)


def test_todays_visits_say_each_fact_once(desk, login, make_customer, reps):
    amy = reps[0]
    by_desk = make_customer(owner=amy, name="张三丰")
    by_rep = make_customer(owner=amy, name="李四光")
    Visit.create(customer=by_desk, kind="visit", received_by=desk, rep=amy, is_first=True)
    Visit.create(customer=by_rep, kind="call", received_by=amy, rep=amy)
    page = login(desk).get("/reception/").get_data(as_text=True)
    rows = page.split('data-testid="visit-row"')[1:]
    assert len(rows) == 2
    call, visit = rows  # newest first
    assert "来电" in call and "复访" in call and "顾问本人" in call and call.count("Amy") == 1
    assert "来访" in visit and "新客户" in visit and "王前台" in visit and visit.count("Amy") == 1
    # Every column has its header, and each cell its label for the phone's cards.
    assert "<th></th>" not in page and 'data-label="置业顾问"' in page and 'data-label="接待类型"' in page


def test_a_busy_day_pages_the_visits_newest_first(desk, login, make_customer, reps):
    start = now() - timedelta(minutes=DESK_VISITS_LIMIT + 5)
    for n in range(DESK_VISITS_LIMIT + 2):
        customer = make_customer(owner=reps[0], name=f"客户{n:03d}", registered_by=desk)
        at = start + timedelta(minutes=n)
        Visit.create(customer=customer, kind="visit", received_by=desk, rep=reps[0], at=at)
    session = login(desk)
    first = session.get("/reception/").get_data(as_text=True)
    assert first.count('data-testid="visit-row"') == DESK_VISITS_LIMIT
    assert f"显示第1–{DESK_VISITS_LIMIT}条，共{DESK_VISITS_LIMIT + 2}条" in first
    newest = f"客户{DESK_VISITS_LIMIT + 1:03d}"
    assert newest in first and "客户000" not in first  # newest first; the desk registered them today
    assert 'data-testid="visits-newer"' not in first
    older = re.search(r'href="([^"]+)" data-testid="visits-older"', first).group(1).replace("&amp;", "&")
    second = session.get(older).get_data(as_text=True)
    assert second.count('data-testid="visit-row"') == 2 and "客户000" in second and "客户001" in second
    assert 'data-testid="visits-older"' not in second and 'data-testid="visits-newer"' in second
    assert f"共{DESK_VISITS_LIMIT + 2}条" in second


def test_undo_check_out_restores_the_place_and_status(desk, reps):
    amy, bob, cat = reps
    for rep in reps:
        rotation.check_in(rep, desk)
    rotation.skip(bob, "busy", desk)
    before = positions()
    rotation.check_out(bob, desk)
    assert order() == ["amy", "cat"]
    assert [e.rep_username for e in rotation.just_checked_out()] == ["bob"]
    rotation.undo_check_out(bob, desk)
    assert order() == ["amy", "bob", "cat"] and positions() == before
    assert {e.rep_username: e.status for e in rotation.queue()}["bob"] == "busy"
    assert rotation.just_checked_out() == []
    with pytest.raises(rotation.RotationError):
        rotation.undo_check_out(bob, desk)  # nothing left to undo


def test_undo_keeps_the_place_when_the_queue_moved_meanwhile(desk, reps):
    amy, bob, cat = reps
    for rep in (amy, bob):
        rotation.check_in(rep, desk)
    rotation.check_out(amy, desk)
    rotation.check_in(cat, desk)  # joins at the back while amy's 签退 can still be undone
    rotation.undo_check_out(amy, desk)
    assert order() == ["amy", "bob", "cat"]


def test_undo_is_refused_after_ten_seconds(desk, reps):
    amy = reps[0]
    rotation.check_in(amy, desk)
    rotation.check_out(amy, desk)
    AuditLog.update(at=now() - timedelta(seconds=11)).where(AuditLog.action == "rotation_check_out").execute()
    assert rotation.just_checked_out() == []
    with pytest.raises(rotation.RotationError):
        rotation.undo_check_out(amy, desk)
    assert RotationEntry.get().status == "off"


def test_undo_over_http(desk, reps, login):
    amy, bob, _cat = reps
    for rep in reps:
        rotation.check_in(rep, desk)
    session = login(desk)
    out = session.post(f"/reception/rotation/{bob.id}/check-out", htmx=True).get_data(as_text=True)
    assert 'data-testid="rotation-checked-out" data-rep="bob"' in out and "已签退" in out
    assert 'data-testid="rotation-undo-check-out"' in out
    # Within the window bob is not offered for check-in: 撤销 is the way back to his place.
    assert f'name="rep_id" value="{bob.id}"' not in out
    back = session.post(f"/reception/rotation/{bob.id}/undo-check-out", htmx=True)
    assert back.status_code == 200 and order() == ["amy", "bob", "cat"]
    again = session.post(f"/reception/rotation/{bob.id}/undo-check-out", htmx=True)
    assert again.status_code == 422 and 'data-testid="rotation-error"' in again.get_data(as_text=True)
    # A rep may undo only their own 签退.
    rotation.check_out(bob, desk)
    assert login(amy).post(f"/reception/rotation/{bob.id}/undo-check-out", htmx=True).status_code == 403


def test_each_rep_row_has_one_primary_button(desk, reps, login):
    for rep in reps:
        rotation.check_in(rep, desk)
    rotation.skip(reps[2], "busy", desk)
    html = login(desk).htmx_get("/reception/rotation").get_data(as_text=True)
    rows = html.split('data-testid="rotation-entry"')[1:]
    for row in rows:
        primary = row.split("<details", 1)[0]
        assert primary.count('type="submit"') == 1
        assert 'data-testid="rotation-check-out"' in row.split("<details", 1)[1]
    assert 'data-testid="rotation-assign"' in rows[0].split("<details", 1)[0]  # amy: her turn
    assert 'data-testid="rotation-available"' in rows[2].split("<details", 1)[0]  # cat: busy


def test_the_client_timeline_names_each_person_once(desk, login, make_customer, reps):
    """Not "来电 · 接待人：Amy · Amy": the rep who took her own call is named once; a visit the desk
    received names the receiver and the rep, each with what they did."""
    amy = reps[0]
    customer = make_customer(owner=amy, name="张三丰")
    Visit.create(customer=customer, kind="call", received_by=amy, rep=amy, at=now() - timedelta(hours=2))
    Visit.create(customer=customer, kind="visit", received_by=desk, rep=amy)
    html = login(amy).get(f"/customers/{customer.id}").get_data(as_text=True)
    visit, call = [part.split("</li>", 1)[0] for part in html.split('data-testid="visit"')[1:]]
    assert "接待人：Amy" in call and call.count("Amy") == 1
    assert "接待人：王前台" in visit and "置业顾问：Amy" in visit
