"""Disputes reach the managers, get decided, and both reps see the outcome; return visits reach the owner."""

import logging

import pytest

from villa.models import AuditLog, Customer, Dispute
from villa.ownership import OwnershipError, close_superseded, decide_dispute, open_dispute, reassign
from villa.registration import log_return_visit


def test_manager_decides_for_the_claimant_and_both_reps_see_it(make_user, login, make_customer):
    manager = make_user("manager")
    owner = make_user("rep", manager=manager, display_name="李娜")
    claimant = make_user("rep", manager=manager, display_name="张伟")
    customer = make_customer(owner=owner, name="赵六")
    dispute = open_dispute(customer, claimant, "上周车展先接待")
    boss = login(manager)
    page = boss.get("/disputes/").get_data(as_text=True)
    assert f'data-testid="dispute-{dispute.id}"' in page and "上周车展先接待" in page
    missing = boss.post(f"/disputes/{dispute.id}/decide", {"note": "x"})
    assert missing.status_code == 422
    assert Dispute.get_by_id(dispute.id).status == "open"
    response = boss.post(
        f"/disputes/{dispute.id}/decide", {"decision": "to_claimant", "note": "车展登记在先"}
    )
    assert response.status_code == 303
    assert Customer.get_by_id(customer.id).owner_id == claimant.id
    decided = Dispute.get_by_id(dispute.id)
    assert (decided.status, decided.decision, decided.decided_by_id) == ("decided", "to_claimant", manager.id)
    assert AuditLog.select().where(AuditLog.action == "dispute_decided").count() == 1
    for rep in (owner, claimant):
        home = login(rep).get("/").get_data(as_text=True)
        assert "车展登记在先" in home and "张伟" in home
    again = boss.post(f"/disputes/{dispute.id}/decide", {"decision": "keep_owner"})
    assert again.status_code == 303
    assert Customer.get_by_id(customer.id).owner_id == claimant.id


def test_a_manager_of_another_team_cannot_decide(make_user, login, make_customer):
    team_manager, other_manager = make_user("manager"), make_user("manager")
    owner = make_user("rep", manager=team_manager)
    claimant = make_user("rep", manager=team_manager)
    dispute = open_dispute(make_customer(owner=owner), claimant, "理由")
    outsider = login(other_manager)
    assert f"dispute-{dispute.id}" not in outsider.get("/disputes/").get_data(as_text=True)
    assert outsider.post(f"/disputes/{dispute.id}/decide", {"decision": "to_claimant"}).status_code == 403


def test_only_the_owners_manager_decides_and_an_out_of_date_dispute_moves_nobody(make_user, make_customer):
    team_a, team_b = make_user("manager"), make_user("manager")
    owner, newcomer = make_user("rep", manager=team_a), make_user("rep", manager=team_a)
    claimant = make_user("rep", manager=team_b)
    customer = make_customer(owner=owner)
    dispute = open_dispute(customer, claimant, "理由")
    with pytest.raises(OwnershipError):
        decide_dispute(dispute, team_b, "to_claimant", "")
    reassign(customer, team_a, newcomer, "调整")
    with pytest.raises(OwnershipError):
        decide_dispute(dispute, team_a, "to_claimant", "")
    assert Customer.get_by_id(customer.id).owner_id == newcomer.id
    assert Dispute.get_by_id(dispute.id).status == "open"
    close_superseded(dispute, team_a)
    closed = Dispute.get_by_id(dispute.id)
    assert (closed.status, closed.decided_by_id) == ("superseded", team_a.id)
    assert Customer.get_by_id(customer.id).owner_id == newcomer.id
    logged = AuditLog.get(AuditLog.action == "dispute_superseded")
    assert logged.change_map == {"dispute": dispute.id, "owner": newcomer.username}
    with pytest.raises(OwnershipError):
        close_superseded(dispute, team_a)


def test_reps_cannot_open_the_dispute_list(login_as):
    assert login_as("rep").get("/disputes/").status_code == 403


def test_return_visit_waits_in_the_owners_day_until_opened(make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, name="钱七")
    log_return_visit(customer, make_user("reception"), "visit", "带太太来看样板间")
    session = login(owner)
    home = session.get("/").get_data(as_text=True)
    assert 'data-testid="return-visits"' in home and "带太太来看样板间" in home
    session.get(f"/customers/{customer.id}")
    assert 'data-testid="return-visits"' not in session.get("/").get_data(as_text=True)


def test_client_page_shows_eligibility(make_user, login, make_customer):
    owner = make_user("rep")
    customer = make_customer(owner=owner, hukou_local=False, social_insurance_months=36, homes_owned=0)
    html = login(owner).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "eligibility-not_eligible" in html
    assert "36" in html and "60" in html


def _statements(caplog, session, path) -> int:
    """How many SQL statements a page runs (peewee logs each at DEBUG)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert session.get(path).status_code == 200
    return sum(1 for record in caplog.records if record.name == "peewee")


def test_a_reps_home_reads_disputes_and_return_visits_in_a_fixed_number_of_statements(
    make_user, login, make_customer, caplog
):
    # Each dispute had loaded its claimant (and, once decided, its customer's owner) in a query of its own.
    manager, desk = make_user("manager"), make_user("reception")
    owner = make_user("rep", manager=manager, display_name="李娜")
    session = login(owner)

    def one_more(n):
        customer = make_customer(owner=owner, name=f"赵{n}")
        claimant = make_user("rep", manager=manager, display_name=f"张{n}")
        open_dispute(customer, claimant, "上周车展先接待")
        log_return_visit(customer, desk, "visit", f"第{n}次回访")

    one_more(1)
    few = _statements(caplog, session, "/")
    for n in range(2, 6):
        one_more(n)
    home = session.get("/").get_data(as_text=True)
    for n in range(1, 6):
        assert f"赵{n}" in home and f"张{n}" in home and f"第{n}次回访" in home
    assert _statements(caplog, session, "/") == few
