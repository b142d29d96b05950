"""Metrics for Prometheus: requests counted in each process, the office's state read at each scrape.

Requests are counted by endpoint, method and status (never by URL: no ids, no query strings) and
timed by endpoint. Under gunicorn the workers are separate processes: `villa serve` points
PROMETHEUS_MULTIPROC_DIR at a folder in the instance, each worker writes its counts there, and a
scrape sums every worker's files (prometheus_client's multiprocess mode). Without that variable (the
test client, `flask run`) the counts live in this process.

The jobs, the backups and the queues are read from the database and the backup folder at each
scrape, so every worker and every host answers alike. QUEUES lists the queues to report:
the customer SMS outbox and the staff notifications (villa.notify) waiting to go out.
"""

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import g, request
from peewee import fn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from villa import jobs
from villa.models import NotificationDelivery, OutboxMessage, now

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Registered here, never in the registry a scrape builds for the workers' files (that would count
# this process twice): in multiprocess mode the files are the truth.
_own = CollectorRegistry()
REQUESTS = Counter(
    "villa_http_requests", "HTTP requests answered", ("endpoint", "method", "status"), registry=_own
)
LATENCY = Histogram(
    "villa_http_request_duration_seconds", "Time to answer a request", ("endpoint",), buckets=BUCKETS,
    registry=_own,
)  # fmt: skip


def _customer_sms() -> dict[str, int]:
    rows = OutboxMessage.select(OutboxMessage.status, fn.COUNT(OutboxMessage.id)).where(
        OutboxMessage.status.in_(("to_send", "failed"))
    )
    return {"to_send": 0, "failed": 0, **dict(rows.group_by(OutboxMessage.status).tuples())}


def _staff_notifications() -> dict[str, int]:
    waiting = ("queued", "sending", "failed")
    rows = NotificationDelivery.select(NotificationDelivery.status, fn.COUNT(NotificationDelivery.id)).where(
        NotificationDelivery.status.in_(waiting)
    )
    return {**dict.fromkeys(waiting, 0), **dict(rows.group_by(NotificationDelivery.status).tuples())}


# queue name -> a call returning {status: messages} for the messages not yet sent
QUEUES: dict[str, Callable[[], dict[str, int]]] = {
    "customer_sms": _customer_sms,
    "staff_notifications": _staff_notifications,
}


def prepare_folder(folder: Path) -> Path:
    """The workers' metrics folder, the owner's alone, emptied: counts start again with the server."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def init_app(app):
    app.before_request(_start_timer)
    app.after_request(_count)


def _start_timer():
    g.metrics_started = time.perf_counter()


def _count(response):
    endpoint = request.endpoint or "unmatched"  # a 404 for a URL no route has
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_Own())
    registry.register(_OfficeState())
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Own:
    def collect(self):
        return _own.collect()


class _OfficeState:
    """Jobs, backups and queues as they stand, read at each scrape."""

    def collect(self):
        yield from _job_metrics()
        yield from _backup_metrics()
        length = GaugeMetricFamily(
            "villa_outbox_messages", "Messages waiting in an outbox, by status", labels=("queue", "status")
        )
        for name, count in QUEUES.items():
            for status, messages in sorted(count().items()):
                length.add_metric((name, status), messages)
        yield length


def _job_metrics():
    runs = CounterMetricFamily("villa_job_runs", "Job runs that ended, by outcome", labels=("job", "outcome"))
    for (name, outcome), count in sorted(jobs.outcome_counts().items()):
        runs.add_metric((name, outcome), count)
    yield runs
    last_ok = GaugeMetricFamily(
        "villa_job_last_success_timestamp_seconds",
        "When the job last ended well (Unix time)",
        labels=("job",),
    )
    for name, at in sorted(jobs.last_successes().items()):
        last_ok.add_metric((name,), _unix(at))
    yield last_ok
    last = GaugeMetricFamily(
        "villa_job_last_run_succeeded", "1 when the job's latest run ended well, else 0", labels=("job",)
    )
    for name, run in sorted(jobs.latest_by_name().items()):
        last.add_metric((name,), 1 if run.outcome == "ok" else 0)
    yield last


def _backup_metrics():
    upkeep = jobs.upkeep()
    if upkeep.backup_made is not None:
        age = (now() - upkeep.backup_made).total_seconds()
        yield GaugeMetricFamily("villa_backup_age_seconds", "Age of the newest backup", value=age)
    yield GaugeMetricFamily(
        "villa_ready", "1 when /healthz/ready answers 200 (daily run and backup in order)",
        value=0 if upkeep.problems() else 1,
    )  # fmt: skip


_EPOCH = datetime(1970, 1, 1)


def _unix(moment: datetime) -> float:
    """A naive UTC timestamp as Unix time."""
    return (moment - _EPOCH).total_seconds()
