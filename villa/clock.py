"""Office time: timestamps are stored in UTC (naive); days are counted on the office's clock.

The office keeps China Standard Time, UTC+8 all year (no daylight saving since 1991), so an office
day is a fixed UTC interval and SQL can shift stored timestamps by OFFICE_UTC_OFFSET.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OFFICE_TZ_NAME = "Asia/Shanghai"
OFFICE_TZ = ZoneInfo(OFFICE_TZ_NAME)
OFFICE_UTC_OFFSET = timedelta(hours=8)


def now() -> datetime:
    """The current time in UTC, naive, as every timestamp column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def office_today() -> date:
    """Today's date on the office's clock (China has one time zone)."""
    return datetime.now(OFFICE_TZ).date()


def office_day_start(day: date | None = None) -> datetime:
    """The UTC moment the office's day began, naive like the stored timestamps."""
    day = day or office_today()
    return datetime.combine(day, time.min, OFFICE_TZ).astimezone(UTC).replace(tzinfo=None)
