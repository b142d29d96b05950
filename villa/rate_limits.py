"""Hits counted against a limit in a sliding window: RateEvent rows, shared by every worker and host.

The public correction links count per address; 报备 count per broker account and per address."""

from datetime import timedelta

from villa.models import RateEvent, now


def count_hit(key: str, limit: int, window: timedelta) -> bool:
    """Count this hit under `key`; True (and not counted) once `limit` hits fall within `window`."""
    start = now() - window
    RateEvent.delete().where(RateEvent.key == key, RateEvent.at < start).execute()
    if RateEvent.select().where(RateEvent.key == key, RateEvent.at >= start).count() >= limit:
        return True
    RateEvent.create(key=key)
    return False
