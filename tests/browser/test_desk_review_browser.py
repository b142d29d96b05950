"""The desk and the review queue on a tablet and a phone: 签退 taken back, counts that follow each
decision, nothing off-screen, every control big enough for a finger."""

from datetime import timedelta

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from villa import rotation
from villa.models import Customer, RotationEntry, Visit, now

from .conftest import ARTIFACTS, login_in_browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}

# Every visible control inside `root` smaller than 44 x 44 px (a tick box counts by its label).
# Links inside running text (a paragraph, a list item) are left out: the sweep judges those.
SMALL_CONTROLS = """(root) => {
  const small = [];
  const controls = ":is(button, a, summary, select, input:not([type=hidden]), label.review-select)";
  for (const el of document.querySelectorAll(root + " " + controls)) {
    if (el.matches("input[type=checkbox]")) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    if (el.matches("a") && !el.matches("[role=button]") && el.closest("p, li")) continue;
    const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
    if (box.width < 44 || box.height < 44) small.push(`${el.tagName} "${el.textContent.trim()}" ${size}`);
  }
  return small;
}"""


def overflows(page):
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def shoot(page, name):
    """The whole page, and what the first screen shows."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def in_view(page, locator, width):
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_check_out_can_be_undone_and_the_rep_keeps_her_place(page, live_server, make_user, make_customer):
    desk = make_user("reception", username="desk", display_name="王前台")
    names = (("lina", "李娜"), ("wei", "张伟"), ("min", "赵敏"))
    reps = [make_user("rep", username=u, display_name=n) for u, n in names]
    for rep in reps:
        rotation.check_in(rep, desk)
    customer = make_customer(owner=reps[0], name="孙立")
    Visit.create(customer=customer, kind="visit", received_by=desk, rep=reps[0], is_first=True)
    before = {e.rep_id: e.position for e in RotationEntry.select()}

    login_in_browser(page, live_server, "desk", PASSWORD)
    assert page.url == f"{live_server}/reception/"  # the receptionist lands on the desk
    expect(page.locator("[data-testid=todays-visits]")).to_contain_text("王前台")
    assert not overflows(page)
    # 置业顾问 and 新客户 at 1024: inside the page, no sideways scroll.
    table = page.locator("[data-testid=todays-visits]")
    assert in_view(page, table, TABLET["width"])
    assert in_view(page, table.locator("[data-testid=visit-new]"), TABLET["width"])
    assert page.evaluate(SMALL_CONTROLS, "#rotation") == []
    shoot(page, "desk-1024")

    wei = page.locator("[data-rep=wei]")
    wei.locator("[data-testid=rotation-more]").click()
    expect(wei.locator("[data-testid=rotation-check-out]")).to_be_visible()
    assert page.evaluate(SMALL_CONTROLS, "#rotation") == []
    shoot(page, "desk-1024-menu")
    wei.locator("[data-testid=rotation-check-out]").click()
    gone = page.locator("[data-testid=rotation-checked-out][data-rep=wei]")
    expect(gone).to_contain_text("已签退")
    expect(page.locator("[data-testid=rotation-entry]")).to_have_count(2)
    shoot(page, "desk-1024-checked-out")
    gone.locator("[data-testid=rotation-undo-check-out]").click()
    expect(page.locator("[data-testid=rotation-entry]")).to_have_count(3)
    names = page.locator("[data-testid=rotation-entry]").evaluate_all("rows => rows.map(r => r.dataset.rep)")
    assert names == ["lina", "wei", "min"]
    assert {e.rep_id: e.position for e in RotationEntry.select()} == before
    assert RotationEntry.get(RotationEntry.rep == reps[1]).status == "available"

    page.set_viewport_size(PHONE)
    page.reload()
    assert not overflows(page)
    expect(page.locator("[data-testid=visit-row]").first).to_be_visible()
    assert page.evaluate(SMALL_CONTROLS, "#rotation") == []
    shoot(page, "desk-390")


def test_the_rotation_menu_stays_open_through_the_poll(page, live_server, make_user):
    desk = make_user("reception", username="desk")
    rotation.check_in(make_user("rep", username="lina", display_name="李娜"), desk)
    login_in_browser(page, live_server, "desk", PASSWORD)
    menu = page.locator("[data-rep=lina] details.rotation-more")
    menu.locator("summary").click()
    with page.expect_response(lambda r: "/reception/rotation" in r.url, timeout=8000):
        pass
    page.wait_for_timeout(300)  # let the morph land
    assert menu.evaluate("d => d.open") is True


def queue_with(make_user, make_customer, count):
    manager = make_user("manager", username="boss", display_name="王经理")
    rep = make_user("rep", username="lina", manager=manager, display_name="李娜")
    moment = now()
    names = ("赵敏", "钱进", "孙立", "周芳", "吴昊")[:count]
    return [
        make_customer(owner=rep, name=name, registered_at=moment - timedelta(days=count - i))
        for i, name in enumerate(names)
    ]


def test_the_review_count_drops_with_each_decision(page, live_server, make_user, make_customer):
    first, second, third = queue_with(make_user, make_customer, 3)
    login_in_browser(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/review/")
    page.evaluate("window.villaNoReload = true")
    count = page.locator("[data-testid=review-count]")
    expect(count).to_have_attribute("data-count", "3")
    expect(count).to_contain_text("3条登记待审核")
    # What a tablet cannot hover is in the row: the missing fields, the exact time.
    row = page.locator(f"#review-row-{first.id}")
    expect(row.locator("[data-testid=review-missing]")).to_contain_text("缺少")
    for summary in page.locator("details.review-reject > summary, details.review-checklist > summary").all():
        assert summary.bounding_box()["height"] >= 44

    row.locator("[data-testid=review-approve]").click()
    expect(row).to_have_count(0)
    expect(count).to_have_attribute("data-count", "2")
    expect(count).to_contain_text("2条登记待审核")

    # A refused rejection: drawn at full strength, its message by the reason.
    refused = page.locator(f"#review-row-{second.id}")
    refused.locator("[data-testid=review-reject-open]").click()
    refused.locator("[data-testid=review-reject]").click()
    error = refused.locator("[data-testid=review-error]")
    expect(error).to_be_visible()
    assert refused.evaluate("r => getComputedStyle(r).opacity") == "1"
    reason_box = refused.locator("[data-testid=review-reason]").bounding_box()
    assert 0 <= error.bounding_box()["y"] - (reason_box["y"] + reason_box["height"]) < 40
    expect(count).to_have_attribute("data-count", "2")
    shoot(page, "review-1024-refused")
    refused.locator("[data-testid=review-reason]").select_option(index=1)
    refused.locator("[data-testid=review-reject]").click()
    expect(refused).to_have_count(0)
    expect(count).to_contain_text("1条登记待审核")
    assert page.evaluate("window.villaNoReload") is True
    assert Customer.get_by_id(third.id).review_status == "pending_first"


def test_the_queue_fits_a_phone_and_a_portrait_tablet(page, live_server, make_user, make_customer):
    customers = queue_with(make_user, make_customer, 4)
    login_in_browser(page, live_server, "boss", PASSWORD)
    page.goto(f"{live_server}/review/")
    assert not overflows(page)
    assert page.evaluate(SMALL_CONTROLS, "#review-rows") == []
    shoot(page, "review-1024")
    for size in ({"width": 768, "height": 1024}, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server}/review/")
        shoot(page, f"review-{size['width']}")
        assert not overflows(page), size
        approve = page.locator(f"#review-row-{customers[0].id} [data-testid=review-approve]")
        assert in_view(page, approve, size["width"]), size
        assert approve.bounding_box()["height"] >= 44
        assert page.evaluate(SMALL_CONTROLS, "#review-rows") == [], size
    # On the phone 通过 is the card's full-width button.
    card = page.locator(f"#review-row-{customers[0].id}").bounding_box()
    assert approve.bounding_box()["width"] > card["width"] * 0.8
    assert page.evaluate(SMALL_CONTROLS, "#review-rows") == []
    shoot(page, "review-390")

    # Batch approval still works from the cards.
    for customer in customers[:2]:
        page.locator(f"#review-row-{customer.id} [data-testid=review-select]").check()
    page.locator("[data-testid=review-batch-approve]").click()
    expect(page.locator("[data-testid=review-count]")).to_have_attribute("data-count", "2")
    assert [Customer.get_by_id(c.id).review_status for c in customers[:2]] == ["pending_second"] * 2
