"""Office time: the fixed offset SQL uses is the office's time zone's."""

from datetime import datetime

from villa.clock import OFFICE_TZ, OFFICE_UTC_OFFSET, office_day_start


def test_the_fixed_offset_is_the_office_time_zone_all_year():
    for month in (1, 7):
        assert OFFICE_TZ.utcoffset(datetime(2026, month, 1)) == OFFICE_UTC_OFFSET


def test_the_office_day_starts_at_midnight_office_time():
    assert office_day_start(datetime(2026, 3, 1).date()) == datetime(2026, 2, 28, 16, 0)
