"""报备 to 确客 in the browser: a broker reports, the desk types the phone and sees the 报备,
registers the customer, the broker's list shows 已确客, and the manager's review queue names the 报备."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD, create_user
from villa.broker_accounts import add_broker_account
from villa.models import Report

from .conftest import ARTIFACTS, log_out_in_browser


def sign_in(page, live_server, username, lands_on):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{lands_on}")


def test_a_broker_reports_the_desk_confirms_and_the_broker_sees_it(page, live_server, make_user):
    add_broker_account(create_user("broker", username="zhao", display_name="赵经纪"), "链家")
    make_user("rep", username="lina", display_name="李娜")
    make_user("reception", username="desk")
    ARTIFACTS.mkdir(exist_ok=True)

    sign_in(page, live_server, "zhao", "/broker/reports")
    page.fill("#customer_name", "王五")
    page.fill("#phone", "138****8000")
    page.click("[data-testid=report-submit]")
    page.wait_for_url(f"{live_server}/broker/reports")
    expect(page.locator("[data-testid=report-status]")).to_have_text("待到访")
    page.screenshot(path=str(ARTIFACTS / "report-broker-list.png"), full_page=True)
    log_out_in_browser(page)

    sign_in(page, live_server, "desk", "/reception/")
    page.goto(f"{live_server}/reception/register")
    page.fill("#name", "王五")
    page.locator("#phone").press_sequentially("13800138000", delay=20)
    match = page.locator("[data-testid=report-match]")
    expect(match).to_be_visible()
    expect(match).to_contain_text("链家")
    expect(match).to_contain_text("赵经纪")
    page.screenshot(path=str(ARTIFACTS / "report-desk-match.png"), full_page=True)
    page.select_option("#channel", "walk_in")
    page.check("#consent")
    page.click("[data-testid=register-submit]")
    page.wait_for_url(f"{live_server}/customers/*")
    assert Report.get().status == "confirmed"
    log_out_in_browser(page)

    sign_in(page, live_server, "zhao", "/broker/reports")
    expect(page.locator("[data-testid=report-status]")).to_have_text("已确客")
    page.screenshot(path=str(ARTIFACTS / "report-broker-confirmed.png"), full_page=True)
    # The customer is now known to the office: a second 报备 is refused, without saying whose.
    page.fill("#customer_name", "王五")
    page.fill("#phone", "13800138000")
    page.click("[data-testid=report-submit]")
    expect(page.locator("[data-testid=report-refused]")).to_have_text("客户已存在，报备无效")
    expect(page.locator("#phone")).to_have_value("13800138000")
    expect(page.locator("body")).not_to_contain_text("李娜")
    page.screenshot(path=str(ARTIFACTS / "report-broker-refused.png"), full_page=True)
    log_out_in_browser(page)

    # The manager reviewing the registration sees whose 报备 it came with, on a phone too.
    make_user("manager", username="wang", display_name="王经理")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "wang", "/")
    page.goto(f"{live_server}/review/")
    check = page.locator("[data-testid=review-report]")
    expect(check).to_have_text("报备 ✓ 链家 · 赵经纪")
    box = check.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=str(ARTIFACTS / "report-review-queue-390.png"), full_page=True)


def test_the_broker_field_offers_the_brokers_of_the_agency_chosen(page, live_server, make_user):
    add_broker_account(create_user("broker", display_name="赵经纪"), "链家")
    add_broker_account(create_user("broker", display_name="钱经纪"), "我爱我家")
    make_user("reception", username="desk")
    sign_in(page, live_server, "desk", "/reception/")
    page.goto(f"{live_server}/reception/register")
    brokers = page.locator("#broker-list option")
    expect(brokers).to_have_count(2)
    page.click("[data-testid=more-info] summary")  # agency and broker sit under 更多信息
    page.fill("#broker_agency", "链家")
    expect(brokers).to_have_count(1)
    expect(brokers.first).to_have_attribute("value", "赵经纪")
    page.fill("#broker_agency", "")
    expect(brokers).to_have_count(2)
