"""The walk-in rotation: queue order through every action, races between desks, who may press what."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from villa import rotation
from villa.db import db
from villa.models import AuditLog, RotationEntry, User, office_today


@pytest.fixture
def desk(make_user):
    return make_user("reception", username="desk")


@pytest.fixture
def reps(make_user):
    return [make_user("rep", username=name, display_name=name.title()) for name in ("amy", "bob", "cat")]


@pytest.fixture
def on_duty(reps, desk):
    """amy, bob and cat checked in, in that order."""
    for rep in reps:
        rotation.check_in(rep, desk)
    return reps


def order(day=None):
    return [entry.rep_username for entry in rotation.queue(day)]


def statuses():
    return {entry.rep_username: entry.status for entry in rotation.queue()}


def next_name():
    rep_id = rotation.next_rep_id()
    return User.get_by_id(rep_id).username if rep_id else None


def test_check_in_joins_at_the_back_in_arrival_order(on_duty, desk):
    amy = on_duty[0]
    assert order() == ["amy", "bob", "cat"]
    assert next_name() == "amy"
    again = rotation.check_in(amy, desk)
    assert (again.position, again.status) == (1, "available")
    assert order() == ["amy", "bob", "cat"]
    assert AuditLog.select().where(AuditLog.action == "rotation_check_in").count() == 3


def test_assign_sends_the_rep_to_the_back(on_duty, desk):
    amy = on_duty[0]
    entry = rotation.assign(amy, desk)
    assert order() == ["bob", "cat", "amy"]
    assert next_name() == "bob"
    assert entry.assigned_count == 1 and entry.last_assigned_at is not None
    log = AuditLog.get(AuditLog.action == "rotation_assign")
    assert (log.actor_id, log.target) == (desk.id, f"user:{amy.id}")


def test_busy_rep_keeps_the_place_but_is_passed_over_until_available(on_duty, desk):
    amy, bob, cat = on_duty
    rotation.assign(amy, desk)
    rotation.skip(bob, "busy", desk)
    assert order() == ["bob", "cat", "amy"]
    assert statuses()["bob"] == "busy"
    assert next_name() == "cat"
    rotation.assign(cat, desk)
    assert order() == ["bob", "amy", "cat"]
    assert next_name() == "amy"
    rotation.mark_available(bob, desk)
    assert order() == ["bob", "amy", "cat"]
    assert next_name() == "bob"
    log = AuditLog.get(AuditLog.action == "rotation_skip")
    assert json.loads(log.changes) == {"reason": "busy"}


def test_away_rep_goes_to_the_back_and_is_passed_over(on_duty, desk):
    amy, bob, _cat = on_duty
    rotation.skip(amy, "away", desk)
    assert order() == ["bob", "cat", "amy"]
    assert next_name() == "bob"
    rotation.skip(bob, "away", desk)
    assert order() == ["cat", "amy", "bob"]
    rotation.mark_available(amy, desk)
    assert next_name() == "cat"
    rotation.skip(on_duty[2], "busy", desk)
    assert next_name() == "amy"


def test_nobody_is_next_when_everyone_is_busy_or_away(on_duty, desk):
    for rep, reason in zip(on_duty, ("busy", "away", "busy"), strict=True):
        rotation.skip(rep, reason, desk)
    assert next_name() is None


def test_check_out_leaves_the_queue_and_checking_in_again_rejoins_at_the_back(on_duty, desk):
    amy = on_duty[0]
    rotation.check_out(amy, desk)
    assert order() == ["bob", "cat"]
    assert next_name() == "bob"
    with pytest.raises(rotation.RotationError):
        rotation.assign(amy, desk)
    rotation.check_in(amy, desk)
    assert order() == ["bob", "cat", "amy"]
    assert statuses()["amy"] == "available"


def test_each_office_day_has_its_own_queue(on_duty, desk):
    yesterday = office_today() - timedelta(days=1)
    rotation.check_in(on_duty[2], desk, day=yesterday)
    assert order(yesterday) == ["cat"]
    assert order() == ["amy", "bob", "cat"]


def test_actions_need_an_active_rep_on_duty(reps, desk, make_user):
    amy = reps[0]
    for action in (rotation.assign, rotation.check_out, rotation.mark_available):
        with pytest.raises(rotation.RotationError):
            action(amy, desk)
    with pytest.raises(rotation.RotationError):
        rotation.skip(amy, "busy", desk)
    with pytest.raises(rotation.RotationError):
        rotation.check_in(make_user("manager"), desk)
    with pytest.raises(rotation.RotationError):
        rotation.check_in(make_user("rep", active=False), desk)
    assert order() == []
    assert AuditLog.select().count() == 0


def test_a_skip_needs_a_known_reason(on_duty, desk):
    with pytest.raises(rotation.RotationError):
        rotation.skip(on_duty[0], "lunch", desk)
    assert order() == ["amy", "bob", "cat"]
    assert set(statuses().values()) == {"available"}


def test_concurrent_desks_never_share_a_position(make_user, desk):
    reps = [make_user("rep", username=f"rep{i}") for i in range(6)]
    for rep in reps:
        rotation.check_in(rep, desk)

    def press(i):
        try:
            rep = reps[i % len(reps)]
            if i % 5 == 4:
                rotation.skip(rep, "away", desk)
            else:
                rotation.assign(rep, desk)
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(press, range(60)))
    entries = list(RotationEntry.select())
    positions = [entry.position for entry in entries]
    assert len(set(positions)) == len(positions) == 6
    assert sum(entry.assigned_count for entry in entries) == 48
    assert AuditLog.select().where(AuditLog.action.startswith("rotation_")).count() == 66


# ---- Over HTTP ----


def url(action, rep=None):
    return f"/reception/rotation/{rep.id}/{action}" if rep else f"/reception/rotation/{action}"


def test_rep_checks_self_in_and_out(make_user, login):
    rep = make_user("rep", username="amy")
    session = login(rep)
    response = session.post(url("check-in"), htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert order() == ["amy"]
    rotation.skip(rep, "busy", rep)
    assert session.post(url("available", rep), htmx=True).status_code == 200
    assert statuses() == {"amy": "available"}
    assert session.post(url("check-out", rep), htmx=True).status_code == 200
    assert order() == []


def test_rep_may_not_move_anyone_else(make_user, login, on_duty):
    amy, bob, _cat = on_duty
    outsider = make_user("rep", username="dan")
    session = login(amy)
    assert session.post(url("check-in"), {"rep_id": outsider.id}, htmx=True).status_code == 403
    assert session.post(url("check-out", bob), htmx=True).status_code == 403
    assert session.post(url("available", bob), htmx=True).status_code == 403
    assert session.post(url("assign", amy), htmx=True).status_code == 403
    assert session.post(url("skip", amy), {"reason": "busy"}, htmx=True).status_code == 403
    assert order() == ["amy", "bob", "cat"]
    assert set(statuses().values()) == {"available"}


def test_reception_runs_the_whole_queue(reps, login, desk):
    amy, bob, cat = reps
    session = login(desk)
    for rep in reps:
        assert session.post(url("check-in"), {"rep_id": rep.id}, htmx=True).status_code == 200
    assert order() == ["amy", "bob", "cat"]
    assert session.post(url("assign", amy), htmx=True).status_code == 200
    assert session.post(url("skip", bob), {"reason": "busy"}, htmx=True).status_code == 200
    response = session.post(url("skip", cat), {"reason": "away"}, htmx=True)
    assert response.status_code == 200
    assert order() == ["bob", "amy", "cat"]
    assert next_name() == "amy"
    html = response.get_data(as_text=True)
    assert '<strong data-testid="next-rep">Amy</strong>' in html
    assert session.post(url("available", bob), htmx=True).status_code == 200
    assert session.post(url("check-out", amy), htmx=True).status_code == 200
    assert order() == ["bob", "cat"] and next_name() == "bob"
    actors = {log.actor_id for log in AuditLog.select().where(AuditLog.action.startswith("rotation_"))}
    assert actors == {desk.id}


def test_manager_may_assign(login_as, on_duty):
    session = login_as("manager")
    assert session.post(url("assign", on_duty[0]), htmx=True).status_code == 200
    assert order() == ["bob", "cat", "amy"]


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditor_and_admin_stay_out(login_as, on_duty, role):
    session = login_as(role)
    amy = on_duty[0]
    assert session.htmx_get("/reception/rotation").status_code == 403
    assert session.post(url("check-in"), {"rep_id": amy.id}, htmx=True).status_code == 403
    for action in ("check-out", "skip", "available", "assign"):
        assert session.post(url(action, amy), {"reason": "busy"}, htmx=True).status_code == 403
    assert order() == ["amy", "bob", "cat"]
    assert set(statuses().values()) == {"available"}


@pytest.mark.parametrize("role", ["reception", "rep", "manager"])
def test_the_queue_is_a_fragment_for_htmx(login_as, on_duty, role):
    response = login_as(role).htmx_get("/reception/rotation")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="rotation"' in html and 'hx-trigger="every 5s"' in html
    assert '<strong data-testid="next-rep">Amy</strong>' in html
    assert html.count('data-testid="rotation-entry"') == 3
    assert html.index('data-rep="amy"') < html.index('data-rep="bob"') < html.index('data-rep="cat"')
    shows_desk_buttons = 'data-testid="rotation-assign"' in html
    assert shows_desk_buttons == (role != "rep")


def test_the_desk_sees_buttons_to_check_reps_in(login, desk, reps):
    rotation.check_in(reps[0], desk)
    html = login(desk).htmx_get("/reception/rotation").get_data(as_text=True)
    assert html.count('data-testid="rotation-check-in"') == 2
    assert f'name="rep_id" value="{reps[1].id}"' in html
    assert f'name="rep_id" value="{reps[0].id}"' not in html


def test_a_rep_off_duty_sees_check_me_in(make_user, login):
    html = login(make_user("rep")).htmx_get("/reception/rotation").get_data(as_text=True)
    assert 'data-testid="rotation-check-in"' in html
    assert 'data-testid="no-next-rep"' in html


def test_skip_without_a_good_reason_is_422_and_changes_nothing(login, desk, on_duty):
    session = login(desk)
    for data in ({"reason": "lunch"}, {}):
        response = session.post(url("skip", on_duty[0]), data, htmx=True)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'data-testid="rotation-error"' in html and 'id="rotation"' in html
    assert order() == ["amy", "bob", "cat"]
    assert set(statuses().values()) == {"available"}


def test_desk_check_in_without_a_rep_is_422(login, desk):
    response = login(desk).post(url("check-in"), htmx=True)
    assert response.status_code == 422
    assert 'data-testid="rotation-error"' in response.get_data(as_text=True)


def test_unknown_rep_is_404(login, desk):
    session = login(desk)
    assert session.post(url("check-in"), {"rep_id": 999999}, htmx=True).status_code == 404
    assert session.post("/reception/rotation/999999/assign", htmx=True).status_code == 404


def test_without_htmx_the_desk_page_is_the_answer(login, desk, on_duty):
    session = login(desk)
    response = session.post(url("assign", on_duty[0]))
    assert response.status_code == 303
    assert response.headers["Location"] == "/reception/"
    assert order() == ["bob", "cat", "amy"]
    refused = session.post(url("skip", on_duty[1]), {"reason": "lunch"})
    assert refused.status_code == 303
    assert session.get("/reception/rotation").headers["Location"] == "/reception/"


# ---- Fair rotation: out of turn with a reason, the skip report, 今日接待, pool walk-ins ----


def register_walk_in(session, rep, phone, **fields):
    from tests.helpers import registration_form as form

    return session.post("/reception/register", form(rep=str(rep.id), phone=phone, **fields))


def test_a_walk_in_out_of_turn_needs_a_reason(login, desk, on_duty):
    from villa.models import Customer, RotationSkip

    amy, bob, cat = on_duty
    session = login(desk)
    page = session.get("/reception/register").get_data(as_text=True)
    assert 'data-testid="out-of-turn"' in page and "Amy" in page
    missing = register_walk_in(session, bob, "139 0000 1001", name="孙八")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert 'data-testid="error-skip_reason"' in html and 'value="孙八"' in html
    other_without_text = register_walk_in(session, bob, "139 0000 1001", skip_reason="other", skip_note=" ")
    assert other_without_text.status_code == 422
    assert 'data-testid="error-skip_note"' in other_without_text.get_data(as_text=True)
    assert Customer.select().count() == 0 and RotationSkip.select().count() == 0

    given = register_walk_in(session, bob, "139 0000 1001", skip_reason="customer_choice")
    assert given.status_code == 303
    [skip] = RotationSkip.select()
    assert (skip.given_to_id, skip.skipped_id, skip.actor_id) == (bob.id, amy.id, desk.id)
    assert skip.reason == "customer_choice"
    assert skip.visit.customer.owner_id == bob.id and skip.visit.via_rotation is False
    assert order() == ["amy", "bob", "cat"] and next_name() == "amy", "nobody's place changes"
    logged = AuditLog.get(AuditLog.action == "rotation_out_of_turn")
    assert logged.change_map == {"reason": "customer_choice", "skipped": "amy"}
    # "Other" with its text is fine too; in turn needs nothing; a call takes no turn.
    other = register_walk_in(session, cat, "139 0000 1002", skip_reason="other", skip_note="说粤语")
    assert other.status_code == 303
    assert RotationSkip.get(RotationSkip.given_to == cat).note == "说粤语"
    assert register_walk_in(session, amy, "139 0000 1003").status_code == 303
    assert register_walk_in(session, cat, "139 0000 1004", visit_type="call").status_code == 303
    assert RotationSkip.select().count() == 2


def test_the_desk_button_out_of_turn_needs_a_reason_page(login, desk, on_duty):
    from villa.models import RotationSkip

    amy, bob, _cat = on_duty
    session = login(desk)
    fragment = session.htmx_get("/reception/rotation").get_data(as_text=True)
    assert f'href="/reception/rotation/{bob.id}/out-of-turn"' in fragment
    refused = session.post(url("assign", bob), htmx=True)
    assert refused.status_code == 422 and 'data-testid="rotation-error"' in refused.get_data(as_text=True)
    page = session.get(url("out-of-turn", bob))
    assert page.status_code == 200 and 'data-testid="out-of-turn-form"' in page.get_data(as_text=True)
    missing = session.post(url("out-of-turn", bob), {"skip_reason": "other"})
    assert missing.status_code == 422 and 'data-testid="error-skip_note"' in missing.get_data(as_text=True)
    assert RotationSkip.select().count() == 0
    done = session.post(url("out-of-turn", bob), {"skip_reason": "language", "skip_note": ""})
    assert done.status_code == 303
    assert RotationSkip.get().reason == "language"
    assert order() == ["amy", "bob", "cat"]
    assert session.post(url("assign", amy), htmx=True).status_code == 200
    assert order() == ["bob", "cat", "amy"]


def test_walk_ins_today_counts_every_walk_in_the_rep_received(login, desk, on_duty, make_customer):
    from villa.models import Visit

    amy, bob, _cat = on_duty
    session = login(desk)
    register_walk_in(session, amy, "139 0000 2001")  # in turn
    register_walk_in(session, amy, "139 0000 2002", skip_reason="referral")  # out of turn (bob was next)
    register_walk_in(session, amy, "139 0000 2003", visit_type="call")  # a call is no walk-in
    returning = make_customer(owner=amy, phone="13900002004")
    session.post(f"/reception/customers/{returning.id}/return-visit", {"kind": "visit", "note": ""})
    session.post(url("out-of-turn", amy), {"skip_reason": "customer_choice"})  # by hand
    assert Visit.select().where(Visit.rep == amy).count() == 4
    fragment = session.htmx_get("/reception/rotation").get_data(as_text=True)
    amy_row = fragment[fragment.index('data-rep="amy"') :]
    amy_row = amy_row[: amy_row.index("</li>")]
    assert "今日接待：4" in amy_row
    bob_row = fragment[fragment.index('data-rep="bob"') :]
    assert "今日接待：0" in bob_row[: bob_row.index("</li>")]


def test_a_pool_customer_who_walks_in_goes_to_the_rotation(login, desk, on_duty, make_customer):
    from tests.helpers import registration_form as form
    from villa.models import Customer, RotationSkip, Visit

    amy, bob, _cat = on_duty
    pooled = make_customer(owner=None, in_public_pool=True, pool_since=office_today(), phone="13900003001")
    session = login(desk)
    conflict = session.post("/reception/register", form(rep=str(amy.id), phone="139 0000 3001"))
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409 and 'data-testid="hand-out-form"' in html
    out_of_turn = session.post(
        f"/reception/customers/{pooled.id}/hand-out", {"hand_out-rep": str(bob.id), "hand_out-kind": "visit"}
    )
    assert out_of_turn.status_code == 422
    assert 'data-testid="error-hand_out-skip_reason"' in out_of_turn.get_data(as_text=True)
    assert Customer.get_by_id(pooled.id).in_public_pool

    given = session.post(
        f"/reception/customers/{pooled.id}/hand-out", {"hand_out-rep": str(amy.id), "hand_out-kind": "visit"}
    )
    assert given.status_code == 303
    fresh = Customer.get_by_id(pooled.id)
    assert (fresh.owner_id, fresh.in_public_pool, fresh.claimed_at) == (amy.id, False, None)
    assert fresh.protected_until is not None and fresh.owned_since is not None
    visit = Visit.get(Visit.customer == pooled.id)
    assert (visit.rep_id, visit.via_rotation, visit.received_by_id) == (amy.id, True, desk.id)
    assert order() == ["bob", "cat", "amy"], "amy took her turn"
    row = AuditLog.get(AuditLog.action == "pool_handed_out")
    assert (row.actor_id, row.customer_id, row.change_map) == (desk.id, pooled.id, {"owner": "amy"})
    assert RotationSkip.select().count() == 0


def test_the_skip_report_by_day_rep_and_reason(login, login_as, desk, on_duty):
    from villa.models import RotationSkip

    amy, bob, cat = on_duty
    session = login(desk)
    register_walk_in(session, bob, "139 0000 4001", skip_reason="customer_choice")
    register_walk_in(session, cat, "139 0000 4002", skip_reason="other", skip_note="老同学")
    register_walk_in(session, bob, "139 0000 4003", skip_reason="customer_choice")
    yesterday = office_today() - timedelta(days=1)
    RotationSkip.create(day=yesterday, given_to=cat, skipped=bob, reason="language", actor=desk)
    manager = login_as("manager")
    page = manager.get("/reception/rotation/skips")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "4" in html[html.index('data-testid="skip-total"') :][:200]
    by_reason = html[html.index('data-testid="skips-by-reason"') :]
    assert '<tr data-reason="customer_choice"><td>客户指定</td><td>2</td>' in by_reason
    assert "老同学" in html
    by_rep = html[html.index('data-testid="skips-by-rep"') :]
    assert '<tr data-rep="amy"><td>Amy</td><td>0</td><td>3</td>' in by_rep
    assert '<tr data-rep="bob"><td>Bob</td><td>2</td><td>1</td>' in by_rep
    by_day = html[html.index('data-testid="skips-by-day"') :]
    assert f"<td>{office_today().isoformat()}</td><td>3</td>" in by_day
    assert f"<td>{yesterday.isoformat()}</td><td>1</td>" in by_day
    today = manager.get(f"/reception/rotation/skips?start={office_today().isoformat()}")
    today_only = today.get_data(as_text=True)
    assert yesterday.isoformat() not in today_only
    bad = manager.get("/reception/rotation/skips?start=2026-12-05&end=2026-12-01")
    assert 'data-testid="error-end"' in bad.get_data(as_text=True)
    assert 'data-testid="skip-report-link"' in manager.get("/reception/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["reception", "rep", "auditor", "admin"])
def test_only_managers_read_the_skip_report(login_as, role):
    assert login_as(role).get("/reception/rotation/skips").status_code == 403


def test_the_desk_cannot_hand_a_pool_walk_in_back_to_its_lapsed_owner_in_the_cooldown(
    login, desk, on_duty, make_customer
):
    from villa.models import Customer, Visit, now
    from villa.ownership import release_lapsed

    amy, _bob, _cat = on_duty
    lapsed = make_customer(owner=amy, protected_until=now() - timedelta(days=1), phone="13900005001")
    release_lapsed()
    session = login(desk)
    refused = session.post(
        f"/reception/customers/{lapsed.id}/hand-out", {"hand_out-rep": str(amy.id), "hand_out-kind": "visit"}
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'data-testid="error-hand_out-rep"' in html and "Amy 曾让该客户掉入公客池" in html
    fresh = Customer.get_by_id(lapsed.id)
    assert (fresh.owner_id, fresh.in_public_pool) == (None, True)
    assert Visit.select().count() == 0 and order() == ["amy", "bob", "cat"]
