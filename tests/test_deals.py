"""Deals through HTTP: recorded with the move to 认筹/认购/签约, confirmed by the manager, refused
without their facts, cancelled (退筹/退房) with a reason; and what the client page shows of them."""

from decimal import Decimal

import pytest

from villa.models import AuditLog, Customer, Deal, office_today

DEAL = {
    "unit_number": "A-12",
    "area": "286.5",
    "price": "1280万",
    "deal_date": "",  # today, filled in below
    "payment": "mortgage",
}


@pytest.fixture
def deal_values():
    return dict(DEAL, deal_date=office_today().isoformat())


@pytest.fixture
def team(make_user):
    manager = make_user("manager", display_name="王经理")
    rep = make_user("rep", manager=manager, display_name="李娜")
    return manager, rep


@pytest.fixture
def customer(team, make_customer):
    return make_customer(owner=team[1], name="张三丰", stage="visited")


@pytest.fixture
def sessions(team, login):
    def english(user):
        session = login(user)
        session.get("/lang/en")
        return session

    manager, rep = team
    return english(manager), english(rep)


def fresh(customer) -> Customer:
    return Customer.get_by_id(customer.id)


def audit(customer, action):
    return [row.change_map for row in AuditLog.select().where(
        AuditLog.customer == customer.id, AuditLog.action == action).order_by(AuditLog.id)]  # fmt: skip


def test_a_pledge_is_recorded_and_moves_the_stage_at_once(sessions, customer, deal_values):
    _, rep = sessions
    response = rep.post(f"/customers/{customer.id}/stage", {"stage": "pledged", **deal_values}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert fresh(customer).stage == "pledged"
    deal = Deal.get()
    assert (deal.stage, deal.status, deal.unit_number, deal.area, deal.price, deal.payment) == (
        "pledged", "confirmed", "A-12", Decimal("286.5"), 12_800_000, "mortgage"
    )  # fmt: skip
    assert deal.deal_date == office_today() and deal.rep_id == customer.owner_id
    assert 'data-testid="deal-status-' in html and "¥12,800,000" in html and "286.5㎡" in html
    [row] = audit(customer, "deal_recorded")
    assert row["stage"] == ["visited", "pledged"] and row["deal"]["price"] == 12_800_000


def test_a_move_without_the_deal_is_refused_at_each_field_with_the_values_kept(sessions, customer):
    _, rep = sessions
    sent = {"stage": "signed", "unit_number": "B-3", "area": "abc", "price": "", "deal_date": ""}
    response = rep.post(f"/customers/{customer.id}/stage", sent, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("area", "price", "deal_date", "payment"):
        assert f'data-testid="error-{name}"' in html, name
    assert 'data-testid="error-unit_number"' not in html
    assert "Enter the total price in yuan" in html
    assert 'value="B-3"' in html and 'value="abc"' in html  # what was typed stays
    assert fresh(customer).stage == "visited"
    assert Deal.select().count() == 0 and not audit(customer, "deal_recorded")


def test_a_future_date_and_a_zero_price_are_refused(sessions, customer, deal_values):
    _, rep = sessions
    sent = {"stage": "pledged", **deal_values, "price": "0", "deal_date": "2999-01-01"}
    html = rep.post(f"/customers/{customer.id}/stage", sent, htmx=True).get_data(as_text=True)
    assert 'data-testid="error-price"' in html and "cannot be in the future" in html
    assert Deal.select().count() == 0


def test_a_signing_waits_for_the_manager_who_confirms_it(sessions, customer, deal_values, team):
    manager, rep = sessions
    response = rep.post(f"/customers/{customer.id}/stage", {"stage": "signed", **deal_values}, htmx=True)
    assert response.status_code == 200
    deal = Deal.get()
    assert deal.status == "pending" and fresh(customer).stage == "visited"
    assert 'data-testid="stage-waiting"' in response.get_data(as_text=True)
    # Nothing else moves the stage meanwhile, and the rep cannot confirm.
    assert (
        rep.post(
            f"/customers/{customer.id}/stage", {"stage": "lost", "lost_reason": "x"}, htmx=True
        ).status_code
        == 422
    )
    assert rep.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", htmx=True).status_code == 403
    # The manager's list shows it, linked from their home.
    assert "/deals/" in manager.get("/").get_data(as_text=True)
    listed = manager.get("/deals/").get_data(as_text=True)
    assert f'data-testid="waiting-deal-{deal.id}"' in listed and "张三丰" in listed
    confirmed = manager.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", {"back": "waiting"})
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith("/deals/")
    deal = Deal.get()
    assert (deal.status, deal.confirmed_by_id) == ("confirmed", team[0].id)
    assert fresh(customer).stage == "signed"
    [row] = audit(customer, "deal_confirmed")
    assert row["stage"] == ["visited", "signed"]
    assert 'data-testid="no-waiting-deals"' in manager.get("/deals/").get_data(as_text=True)
    # Confirming twice changes nothing.
    assert manager.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", htmx=True).status_code == 409
    assert len(audit(customer, "deal_confirmed")) == 1


def test_only_the_owners_manager_confirms(sessions, customer, deal_values, make_user, login):
    _, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "subscribed", **deal_values}, htmx=True)
    deal = Deal.get()
    other = login(make_user("manager"))
    assert other.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", htmx=True).status_code == 403
    assert f"waiting-deal-{deal.id}" not in other.get("/deals/").get_data(as_text=True)
    assert Deal.get().status == "pending" and fresh(customer).stage == "visited"


def test_a_rep_without_a_manager_is_confirmed_by_any_manager(make_user, make_customer, login, deal_values):
    rep = make_user("rep")
    customer = make_customer(owner=rep, stage="visited")
    login(rep).post(f"/customers/{customer.id}/stage", {"stage": "subscribed", **deal_values}, htmx=True)
    deal = Deal.get()
    manager = login(make_user("manager"))
    assert manager.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", htmx=True).status_code == 200
    assert fresh(customer).stage == "subscribed"


def test_the_manager_records_a_subscription_confirmed_at_once(sessions, customer, deal_values, team):
    manager, _ = sessions
    manager.post(f"/customers/{customer.id}/stage", {"stage": "subscribed", **deal_values}, htmx=True)
    deal = Deal.get()
    assert (deal.status, deal.confirmed_by_id, fresh(customer).stage) == (
        "confirmed",
        team[0].id,
        "subscribed",
    )


def test_cancel_needs_a_reason_and_takes_the_customer_back(sessions, customer, deal_values):
    manager, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "pledged", **deal_values}, htmx=True)
    rep.post(
        f"/customers/{customer.id}/stage",
        {"stage": "signed", **deal_values, "unit_number": "A-12"},
        htmx=True,
    )
    pledge, signing = Deal.select().order_by(Deal.id)
    manager.post(f"/customers/{customer.id}/deals/{signing.id}/confirm", htmx=True)
    assert fresh(customer).stage == "signed"
    # A rep may not undo a confirmed signing; the manager may, with a reason.
    assert (
        rep.post(
            f"/customers/{customer.id}/deals/{signing.id}/cancel", {"reason": "x"}, htmx=True
        ).status_code
        == 403
    )
    refused = manager.post(f"/customers/{customer.id}/deals/{signing.id}/cancel", {"reason": " "}, htmx=True)
    assert refused.status_code == 422 and 'data-testid="error-reason"' in refused.get_data(as_text=True)
    assert Deal.get_by_id(signing.id).status == "confirmed"
    done = manager.post(
        f"/customers/{customer.id}/deals/{signing.id}/cancel", {"reason": "贷款未获批"}, htmx=True
    )
    assert done.status_code == 200
    assert [d.status for d in Deal.select().order_by(Deal.id)] == ["cancelled", "cancelled"]
    assert Deal.get_by_id(signing.id).cancel_reason == "贷款未获批"
    assert fresh(customer).stage == "visited"
    [row] = audit(customer, "deal_cancelled")
    assert row["stage"] == ["signed", "visited"] and row["reason"] == "贷款未获批"
    assert pledge.id != signing.id


def test_a_rep_withdraws_a_waiting_deal_and_the_stage_stays(sessions, customer, deal_values):
    _, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "subscribed", **deal_values}, htmx=True)
    deal = Deal.get()
    response = rep.post(f"/customers/{customer.id}/deals/{deal.id}/cancel", {"reason": "客户改主意"})
    assert response.status_code == 303
    assert Deal.get().status == "cancelled" and fresh(customer).stage == "visited"
    assert "stage" not in audit(customer, "deal_cancelled")[0]


def test_other_reps_see_no_deal_and_cannot_touch_it(sessions, customer, deal_values, make_user, login):
    _, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "pledged", **deal_values}, htmx=True)
    deal = Deal.get()
    other = login(make_user("rep"))
    html = other.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="deals"' not in html and "A-12" not in html and "12,800,000" not in html
    assert other.post(f"/customers/{customer.id}/deals/{deal.id}/cancel", {"reason": "x"}).status_code == 403
    assert Deal.get().status == "confirmed"


def test_the_client_page_and_timeline_show_the_deal(sessions, customer, deal_values):
    _, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "signed", **deal_values}, htmx=True)
    html = rep.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="deals"' in html and "A-12" in html and "¥12,800,000" in html
    assert "Waiting for the manager" in html
    assert 'data-testid="event-deal_recorded"' in html and 'data-testid="deal-event"' in html


def test_unknown_deal_is_404(sessions, customer):
    manager, _ = sessions
    assert manager.post(f"/customers/{customer.id}/deals/999999/confirm", htmx=True).status_code == 404


def test_the_customer_export_has_a_deals_sheet_for_the_customers_seen_in_full(
    sessions, customer, deal_values, make_user, make_customer, login
):
    import io

    from openpyxl import load_workbook

    manager, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "signed", **deal_values}, htmx=True)
    other_rep = make_user("rep", manager=make_user("manager"))
    elsewhere = make_customer(owner=other_rep, stage="visited")
    login(other_rep).post(
        f"/customers/{elsewhere.id}/stage", {"stage": "pledged", **deal_values, "unit_number": "Z-9"}
    )
    book = load_workbook(io.BytesIO(manager.get("/customers/export.xlsx").data))
    rows = [list(row) for row in book["成交"].iter_rows(values_only=True)]
    assert rows[0][:6] == ["客户编号", "姓名", "成交阶段", "房号", "面积（㎡）", "总价（元）"]
    assert len(rows) == 2  # the other team's deal is not in it
    deal = rows[1]
    assert deal[:6] == [customer.id, "张三丰", "签约", "A-12", 286.5, 12_800_000]
    assert deal[8] == "待经理确认" and deal[9] == "李娜"


def test_without_javascript_the_waiting_deal_is_said_and_a_refusal_comes_back_on_a_page(
    sessions, customer, deal_values
):
    manager, rep = sessions
    moved = rep.post(f"/customers/{customer.id}/stage", {"stage": "signed", **deal_values})
    assert moved.status_code == 303
    page = rep.get(moved.headers["Location"]).get_data(as_text=True)
    assert "waits for the manager&#39;s confirmation" in page
    deal = Deal.get()
    refused = manager.post(f"/customers/{customer.id}/deals/{deal.id}/cancel", {"reason": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "<html" in html and 'data-testid="error-reason"' in html
    assert Deal.get().status == "pending"


def test_a_customer_with_a_deal_is_not_lost_before_the_deal_is_cancelled(sessions, customer, deal_values):
    _, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "pledged", **deal_values}, htmx=True)
    lost = {"stage": "lost", "lost_reason": "买了别家"}
    refused = rep.post(f"/customers/{customer.id}/stage", lost, htmx=True)
    assert refused.status_code == 422 and "Cancel the customer" in refused.get_data(as_text=True)
    assert fresh(customer).stage == "pledged"
    deal = Deal.get()
    rep.post(f"/customers/{customer.id}/deals/{deal.id}/cancel", {"reason": "退筹"}, htmx=True)
    assert rep.post(f"/customers/{customer.id}/stage", lost, htmx=True).status_code == 200
    assert fresh(customer).stage == "lost"


def test_the_waiting_list_says_when_it_shows_only_the_oldest(
    sessions, team, make_customer, deal_values, monkeypatch
):
    from villa.web.deals import routes

    manager, rep = sessions
    for n in range(3):
        waiting = make_customer(owner=team[1], stage="visited")
        values = {"stage": "signed", **deal_values, "unit_number": f"A-{n}"}
        rep.post(f"/customers/{waiting.id}/stage", values, htmx=True)
    monkeypatch.setattr(routes, "WAITING_SHOWN", 2)
    html = manager.get("/deals/").get_data(as_text=True)
    assert html.count('data-testid="waiting-deal-') == 2
    assert 'data-testid="waiting-capped"' in html and "Showing the oldest 2 of 3." in html
    home = manager.get("/").get_data(as_text=True)
    assert 'data-testid="count-deals_waiting" data-count="3"' in home


def test_the_audit_log_tells_the_deal_in_words(sessions, customer, deal_values, team):
    from villa import describe

    manager, rep = sessions
    rep.post(f"/customers/{customer.id}/stage", {"stage": "signed", **deal_values}, htmx=True)
    deal = Deal.get()
    manager.post(f"/customers/{customer.id}/deals/{deal.id}/confirm", htmx=True)
    manager.post(f"/customers/{customer.id}/deals/{deal.id}/cancel", {"reason": "贷款未获批"}, htmx=True)
    rows = list(AuditLog.select().where(AuditLog.action.startswith("deal_")).order_by(AuditLog.id))
    told = describe.describe_page(rows)
    sentences = [told[row.id].sentence for row in rows]
    assert all("A-12" in s and "¥12,800,000" in s for s in sentences), sentences
    assert "贷款未获批" in sentences[2]
    assert not any("{" in s or "deal_" in s for s in sentences)
