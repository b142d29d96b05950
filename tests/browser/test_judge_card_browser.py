"""rep2, on the same team, opens rep's customer: the 判客 card only, and a dispute from it."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, login_in_browser


def test_a_colleague_sees_the_card_only_and_may_open_a_dispute(page, live_server, make_user, make_customer):
    from villa.followups import add_followup

    manager = make_user("manager")
    rep = make_user("rep", username="lina", display_name="李娜", manager=manager)
    make_user("rep", username="rep2", display_name="王强", manager=manager)
    customer = make_customer(
        owner=rep,
        registered_by=rep,
        name="张三丰",
        phone="13912345678",
        notes="只在周末联系",
        budget="2000万+",
    )
    add_followup(customer, rep, "visit", "带太太看了独栋样板间")

    login_in_browser(page, live_server, "rep2", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    card = page.locator("[data-testid=judge-card]")
    expect(card).to_be_visible()
    expect(card.locator("[data-testid=customer-name]")).to_have_text("张**")
    expect(card.locator("[data-testid=phone]")).to_have_text("139****5678")
    expect(card.locator("[data-testid=owner]")).to_have_text("李娜")
    expect(card.locator("[data-testid=registered-on]")).not_to_be_empty()
    body = page.locator("main")
    for secret in ("张三丰", "带太太看了独栋样板间", "只在周末联系", "2000万+"):
        expect(body).not_to_contain_text(secret)
    expect(page.locator("#timeline")).to_have_count(0)
    expect(page.locator("#followup-form")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "judge-card.png"), full_page=True)

    page.fill("[data-testid=dispute-form] textarea[name=reason]", "上周六是我接待的")
    page.click("[data-testid=open-dispute]")
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/customers/{customer.id}")
    expect(page.locator("[data-testid=dispute-waiting]")).to_be_visible()
    expect(page.locator("[data-testid=dispute-form]")).to_have_count(0)
