"""The logs on a phone: each entry is a card, when, what, whose record and the sentence on the screen,
nothing hidden in a table that scrolls sideways."""

import pytest

from tests.conftest import PASSWORD
from villa.models import AccessLog

from .conftest import ARTIFACTS, login_in_browser

SIZES = {"1024": {"width": 1024, "height": 768}, "390": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["access", "audit"])
def test_every_column_of_the_logs_is_on_the_screen(page, live_server, make_user, make_customer, size, tab):
    alice = make_user("manager", username="alice", display_name="王经理")
    make_user("auditor", username="shen", display_name="沈审计")
    customer = make_customer(name="陈先生")
    AccessLog.create(actor=alice, action="reveal", customer=customer, fields="phone", ip="10.0.0.7")
    page.set_viewport_size(SIZES[size])
    login_in_browser(page, live_server, "shen", PASSWORD)
    page.goto(f"{live_server}/logs/?tab={tab}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"logs-{tab}-{size}.png"), full_page=True)

    table = page.get_by_test_id(f"log-{tab}")
    wrap = table.locator("xpath=..")
    assert wrap.evaluate("box => box.scrollWidth <= box.clientWidth"), "no column hidden in a scroll"
    row = page.get_by_test_id("log-row").first
    width = SIZES[size]["width"]
    for cell in row.locator("td").all():
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, cell.inner_text()
    if tab == "access":
        text = row.inner_text()
        assert "王经理" in text and f"#{customer.id}" in text and "10.0.0.7" in text
