"""The customer list, the pool and the key rotation on a tablet and a phone: the filter bar reads and
takes a finger, the pool's 认领 is on the screen, and 轮换数据密钥 asks before it rotates."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa import keys
from villa.models import AuditLog, Customer, Setting, now

from .conftest import ARTIFACTS, login_in_browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
SIZES = {"1024": TABLET, "768": {"width": 768, "height": 1024}, "390": PHONE}
TOUCH = 44  # px, WCAG 2.5.5
READABLE = 120  # px: a select narrower than this cuts 全部来源渠道 to a sliver


def shoot(page, name):
    """Save what the office sees, the screen and the whole page, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def overflow(page) -> int:
    """How many px the page is wider than the screen (0: nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def boxes(page, selector) -> list[dict]:
    return [box for box in (el.bounding_box() for el in page.locator(selector).all()) if box]


@pytest.fixture
def office(make_user, make_customer):
    """A manager with two reps, their customers (grades A and C), and one customer in the pool."""
    manager = make_user("manager", username="wang", display_name="王经理")
    lina = make_user("rep", username="lina", display_name="李娜", manager=manager)
    zhang = make_user("rep", username="zhang", display_name="张伟", manager=manager)
    for n in range(4):
        make_customer(owner=lina, name=f"陈{n}号", grade="A")
        make_customer(owner=zhang, name=f"刘{n}号", grade="C", channel="online_ad")
    since = now() - timedelta(days=2)
    pooled = make_customer(name="赵公池", grade="B", in_public_pool=True, pool_since=since)
    return {"manager": manager, "lina": lina, "pooled": pooled}


@pytest.mark.parametrize("size", SIZES)
def test_the_filter_bar_reads_and_takes_a_finger(page, live_server, office, size):
    page.set_viewport_size(SIZES[size])
    login_in_browser(page, live_server, "wang", PASSWORD)
    page.goto(f"{live_server}/customers/")
    shoot(page, f"list-{size}")

    search, button = page.get_by_test_id("search"), page.get_by_test_id("search-button")
    field, go = search.bounding_box(), button.bounding_box()
    middle = field["y"] + field["height"] / 2
    assert abs(middle - (go["y"] + go["height"] / 2)) < 2, "search and 搜索 on one row"
    assert go["x"] >= field["x"] + field["width"] - 2, "搜索 right of the box"
    assert field["width"] >= 200 and go["height"] >= TOUCH and go["height"] < 2 * TOUCH, "搜索 on one line"
    assert go["x"] + go["width"] <= SIZES[size]["width"]

    selects = boxes(page, "[data-testid=filter-bar] select")
    assert len(selects) >= 5
    for box in selects:
        assert box["height"] >= TOUCH and box["width"] >= READABLE, box
    for label in page.locator("[data-testid=filter-bar] label").all():
        assert label.inner_text().strip(), "every filter says what it filters"
    pool_only = page.get_by_test_id("filter-pool").bounding_box()
    assert TOUCH <= pool_only["height"] < 2 * TOUCH, "仅看公客池 on one line"
    assert pool_only["width"] >= 2 * TOUCH
    summary = page.locator("[data-testid=more-filters] > summary").bounding_box()
    assert summary["height"] >= TOUCH
    assert overflow(page) == 0
    table_box = page.get_by_test_id("customer-table").locator("xpath=..")
    assert table_box.evaluate("box => box.scrollWidth <= box.clientWidth"), "no column hidden in a scroll"

    # The active search still answers: a grade picked, the rows follow without 搜索.
    assert page.get_by_test_id("customer-row").count() == 9
    with page.expect_response(lambda r: "/customers/" in r.url and "grade=A" in r.url):
        page.get_by_test_id("filter-grade").select_option("A")
    expect(page.get_by_test_id("customer-row")).to_have_count(4)
    assert overflow(page) == 0


def test_the_list_works_without_javascript(browser, live_server, office):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    login_in_browser(page, live_server, "wang", PASSWORD)
    page.goto(f"{live_server}/customers/")
    page.get_by_test_id("filter-grade").select_option("C")
    page.get_by_test_id("search-button").click()
    page.wait_for_url("**/customers/?**grade=C**")
    rows = page.get_by_test_id("customer-row")
    assert rows.count() == 4 and "刘" in rows.first.inner_text()
    assert page.get_by_test_id("filter-grade").input_value() == "C", "the filter keeps its value"
    context.close()


def test_a_rep_claims_from_the_pool_on_a_phone(page, live_server, office):
    page.set_viewport_size(PHONE)
    login_in_browser(page, live_server, "lina", PASSWORD)
    page.goto(f"{live_server}/pool/")
    shoot(page, "pool-390")
    claim = page.get_by_test_id(f"claim-{office['pooled'].id}")
    box = claim.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "认领 on the screen"
    assert box["height"] >= TOUCH and box["width"] >= PHONE["width"] / 2, "a full-width button"
    assert overflow(page) == 0
    claim.click()
    page.wait_for_url(f"**/customers/{office['pooled'].id}")  # the claimed customer's page
    assert Customer.get_by_id(office["pooled"].id).owner_id == office["lina"].id


def test_rotating_the_data_key_asks_first(page, live_server, make_user, office):
    make_user("admin", username="root")
    login_in_browser(page, live_server, "root", PASSWORD)
    page.goto(f"{live_server}/admin/keys")
    page.get_by_test_id("rotate-data-key").click()
    page.wait_for_url("**/admin/keys/rotate")
    shoot(page, "keys-confirm-1024")
    assert Setting.read(keys.PROGRESS_KEY) is None, "the first tap rotates nothing"
    page.get_by_test_id("cancel-rotation").click()
    page.wait_for_url("**/admin/keys")
    assert Setting.read(keys.PROGRESS_KEY) is None

    page.get_by_test_id("rotate-data-key").click()
    page.get_by_test_id("confirm-rotate-data-key").click()
    page.wait_for_url("**/admin/keys")
    page.get_by_test_id("rotation-finished").wait_for()
    rotated = AuditLog.select().where(AuditLog.action == "keys_rotated")
    assert [entry.change_map["kind"] for entry in rotated] == ["data"], "rotated once, on the second tap"
