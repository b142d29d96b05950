"""The nightly upkeep on the administration page, at a tablet and a phone: every step's outcome,
what it did and its seconds are on the screen, not behind a sideways scroll."""

import pytest

from tests.conftest import PASSWORD
from villa.daily import run_daily

from .conftest import login_in_browser
from .test_list_browser import shoot

SIZES = {"1024": {"width": 1024, "height": 768}, "390": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", SIZES)
def test_every_step_of_the_nightly_upkeep_reads_in_full(page, live_server, make_user, size):
    admin = make_user("admin")
    run_daily()
    page.set_viewport_size(SIZES[size])
    login_in_browser(page, live_server, admin.username, PASSWORD)
    page.goto(f"{live_server}/admin/")
    rows = page.locator("[data-testid=upkeep] tbody tr")
    assert rows.count() >= 8
    width = SIZES[size]["width"]
    for row in rows.all():
        row.scroll_into_view_if_needed()
        for cell in row.locator("td").all():
            box = cell.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (
                f"{row.get_attribute('data-testid')}: a cell of {cell.inner_text()!r} is off the screen"
            )
    shoot(page, f"upkeep-{size}")
