"""A rep logs follow-ups on the client page of a tablet: the timeline grows without a reload."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, login_in_browser
from .test_profile_browser import Requests


def open_client_page(page, live_server, make_user, make_customer):
    owner = make_user("rep", username="lina", display_name="李娜")
    customer = make_customer(owner=owner, name="张三丰")
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/customers/{customer.id}")
    # Survives only as long as the page does: a full reload would drop it.
    page.evaluate("window.villaNoReload = true")
    return customer


def still_same_page(page, url):
    assert page.url == url
    assert page.evaluate("window.villaNoReload === true"), "the page reloaded"


def test_followup_lands_on_top_and_the_form_empties(page, live_server, make_user, make_customer):
    customer = open_client_page(page, live_server, make_user, make_customer)
    url = page.url
    requests = Requests(page, live_server)
    form = page.locator("#followup-form")
    form.locator("#followup-kind-1").check()  # visit
    page.fill("#followup-content", "客户带太太看了独栋样板间")
    page.check("#followup-reached")
    page.fill("#followup-result", "下周二再来")
    page.select_option("#followup-grade", "A")

    def save():
        page.click("[data-testid=followup-submit]")
        expect(page.locator("#timeline > li").first).to_contain_text("客户带太太看了独栋样板间")

    # One request: the row, the fresh form and the header come in one answer.
    assert requests.during(page, save) == [f"POST /customers/{customer.id}/followups"]
    expect(page.locator("#client-header [data-testid=grade]")).to_have_text("A")
    # The visit moved the stage on, and the grade changed: both under the new row, as a reload
    # shows them (checked at the end).
    inserted = _first_entries(page)
    assert inserted == ["followup", "event-stage_changed", "event-grade_changed"], inserted
    newest = page.locator("#timeline > li").first
    expect(newest).to_have_attribute("data-testid", "followup")
    expect(newest).to_contain_text("客户带太太看了独栋样板间")
    expect(newest.locator("[data-testid=followup-reached]")).to_be_visible()
    expect(page.locator("#followup-content")).to_have_value("")
    expect(page.locator("#followup-result")).to_have_value("")
    expect(page.locator("#followup-reached")).not_to_be_checked()
    expect(page.locator("#followup-form")).to_have_count(1)
    still_same_page(page, url)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "followup-added.png"), full_page=True)
    page.reload()
    assert _first_entries(page) == inserted


def _first_entries(page, count=3):
    return [
        page.locator(f"#timeline > li:nth-child({n})").get_attribute("data-testid")
        for n in range(1, count + 1)
    ]


def test_invalid_followup_shows_the_message_in_the_form(page, live_server, make_user, make_customer):
    open_client_page(page, live_server, make_user, make_customer)
    url = page.url
    before = page.locator("#timeline > li").count()
    page.fill("#followup-result", "没接")
    page.click("[data-testid=followup-submit]")

    expect(page.locator("#followup-form [data-testid=error-content]")).to_be_visible()
    expect(page.locator("#followup-result")).to_have_value("没接")
    expect(page.locator("#followup-form")).to_have_count(1)
    assert page.locator("#timeline > li").count() == before
    # The re-rendered form still posts through htmx: fixing it adds the row.
    page.fill("#followup-content", "打了两次没接")
    page.click("[data-testid=followup-submit]")
    expect(page.locator("#timeline > li").first).to_contain_text("打了两次没接")
    expect(page.locator("[data-testid=error-content]")).to_have_count(0)
    still_same_page(page, url)


def test_correcting_an_entry_appends_a_new_one(page, live_server, make_user, make_customer):
    open_client_page(page, live_server, make_user, make_customer)
    url = page.url
    page.fill("#followup-content", "预算八百万")
    page.click("[data-testid=followup-submit]")
    original = page.locator("#timeline > li").first
    expect(original).to_contain_text("预算八百万")

    original.locator("[data-testid=followup-correct]").click()
    expect(page.locator("[data-testid=followup-correcting]")).to_be_visible()
    expect(page.locator("#followup-content")).to_have_value("预算八百万")
    page.fill("#followup-content", "预算一千万")
    page.click("[data-testid=followup-submit]")

    newest = page.locator("#timeline > li").first
    expect(newest).to_contain_text("预算一千万")
    expect(newest.locator("[data-testid=followup-corrects]")).to_be_visible()
    expect(page.locator("[data-testid=followup-correcting]")).to_have_count(0)
    expect(page.locator("#followup-content")).to_have_value("")
    expect(page.locator("[data-testid=followup]", has_text="预算八百万")).to_have_count(1)
    # The original is marked as corrected in place, by the same answer.
    corrected = page.locator("[data-testid=followup]", has_text="预算八百万")
    expect(corrected.locator("[data-testid=followup-corrected-by]")).to_be_visible()
    still_same_page(page, url)
