"""The percentile both harnesses report: make bench's single requests and make loadtest's actions
(bench/locustfile.py, which runs inside locust's process)."""

import math


def percentile(values, share: float):
    """Nearest rank: the smallest value with at least `share` of the values at or below it; None
    for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * share) - 1))]
