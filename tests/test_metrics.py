"""GET /metrics: Prometheus text for the bearer of VILLA_METRICS_TOKEN only; requests counted by
endpoint and status (never by URL); jobs, the backup's age and the outbox read at each scrape.
(Counted across gunicorn's workers: tests/security/test_metrics_live.py.)"""

from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from villa.clock import OFFICE_UTC_OFFSET
from villa.models import JobRun, Notification, NotificationDelivery, OutboxMessage, now

TOKEN = "a-long-random-metrics-token"


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN

    def _scrape() -> str:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    return _scrape


def sample(text: str, name: str, **labels) -> float | None:
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return None


def test_without_a_configured_token_metrics_is_not_there(app, client):
    app.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", f"{TOKEN}"]
)
def test_a_missing_or_wrong_token_is_401(app, client, header):
    app.config["METRICS_TOKEN"] = TOKEN
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "villa_http_requests" not in response.get_data(as_text=True)


def test_the_token_opens_the_prometheus_text(scrape, client):
    text = scrape()
    assert "# TYPE villa_http_requests_total counter" in text
    assert "# TYPE villa_http_request_duration_seconds histogram" in text


def test_requests_are_counted_by_endpoint_and_status(scrape, client):
    before = scrape()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    after = scrape()
    labels = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
    assert (
        sample(after, "villa_http_requests_total", **labels)
        - (sample(before, "villa_http_requests_total", **labels) or 0)
        == 3
    )
    assert sample(after, "villa_http_requests_total", endpoint="unmatched", status="404") >= 1
    count = sample(after, "villa_http_request_duration_seconds_count", endpoint="health.healthz")
    assert count >= 3


def test_no_ids_or_query_strings_in_the_labels(scrape, login_as, make_customer):
    rep = login_as("rep")
    customer = make_customer(owner=rep.user)
    rep.get(f"/customers/{customer.id}")
    rep.get("/customers/?q=13912345678")
    text = scrape()
    assert sample(text, "villa_http_requests_total", endpoint="clients.detail", status="200") >= 1
    assert f"/customers/{customer.id}" not in text and "13912345678" not in text and "?q" not in text


def test_jobs_backup_and_outbox_are_reported(scrape, make_customer, app, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path)
    made = now() - timedelta(hours=2) + OFFICE_UTC_OFFSET  # backup names are in office time
    (tmp_path / f"villa-{made:%Y%m%d-%H%M%S}.vbk").write_bytes(b"")
    at = now() - timedelta(hours=1)
    run = JobRun.create(name="daily", started_at=at, finished_at=at, outcome="failed")
    JobRun.create(name="backup", run=run, started_at=at, finished_at=at, outcome="failed", error="disk full")
    JobRun.create(name="pool_release", run=run, started_at=at, finished_at=at, outcome="ok")
    customer = make_customer()
    for status in ("to_send", "to_send", "failed", "sent"):
        OutboxMessage.create(customer=customer, kind="rejection", body="x", status=status)
    for n, status in enumerate(("queued", "failed", "sent")):
        note = Notification.create(
            recipient=customer.owner or customer.registered_by, kind="digest", key=f"k{n}"
        )
        NotificationDelivery.create(notification=note, channel="email", status=status)
    text = scrape()
    assert sample(text, "villa_job_last_run_succeeded", job="backup") == 0
    assert sample(text, "villa_job_last_run_succeeded", job="pool_release") == 1
    assert sample(text, "villa_job_runs_total", job="backup", outcome="failed") == 1
    last = sample(text, "villa_job_last_success_timestamp_seconds", job="pool_release")
    assert abs(last - (at - datetime(1970, 1, 1)).total_seconds()) < 1
    assert sample(text, "villa_outbox_messages", queue="customer_sms", status="to_send") == 2
    assert sample(text, "villa_outbox_messages", queue="customer_sms", status="failed") == 1
    assert sample(text, "villa_outbox_messages", queue="staff_notifications", status="queued") == 1
    assert sample(text, "villa_outbox_messages", queue="staff_notifications", status="failed") == 1
    assert sample(text, "villa_ready") == 0
    assert 7190 < sample(text, "villa_backup_age_seconds") < 7210
    assert "disk full" not in text
