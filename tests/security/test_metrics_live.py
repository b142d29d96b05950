"""/metrics on the real `villa serve`: gunicorn's workers are separate processes, and a scrape, answered
by whichever worker, sums what every worker counted (prometheus_client's multiprocess mode)."""

import re
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.security.live import Instance

TOKEN = "metrics-token-for-the-live-test"
REQUESTS = 60


@pytest.fixture(scope="module")
def metered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    instance = Instance(folder, env_extra={"VILLA_METRICS_TOKEN": TOKEN}, workers=2)
    try:
        instance.seed({})
        instance.start()
        yield instance
    finally:
        instance.close()


def _healthz_count(instance) -> float:
    response = instance.client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200, response.status
    wanted = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "villa_http_requests_total" and sample.labels == wanted:
                return sample.value
    return 0.0


def _counting_pids(instance) -> set[str]:
    folder = instance.folder / "metrics"
    return {re.search(r"_(\d+)\.db$", path.name).group(1) for path in folder.glob("counter_*.db")}


def test_counts_are_summed_across_the_workers(metered):
    before = _healthz_count(metered)
    sent = 0
    # Rounds of concurrent requests until both workers have counted some: which worker accepts a
    # connection is the kernel's choice, and on a busy machine one worker may take a whole round.
    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent < REQUESTS * 20 and (sent < REQUESTS or len(_counting_pids(metered)) < 2):
            statuses = list(pool.map(lambda _: metered.client().get("/healthz").status, range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            sent += REQUESTS
    pids = _counting_pids(metered)
    assert len(pids) >= 2, f"only {pids} counted after {sent} requests: they never reached both workers"
    assert _healthz_count(metered) - before == sent, "each worker's counts are in the sum"


def test_the_metrics_folder_is_the_servers_alone(metered):
    folder = metered.folder / "metrics"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_the_live_server_refuses_a_wrong_token(metered):
    assert metered.client().get("/metrics", headers={"Authorization": "Bearer nope"}).status == 401
    assert metered.client().get("/metrics").status == 401


def test_ready_says_why_it_is_not(metered):
    response = metered.client().get("/healthz/ready")
    assert (response.status, response.text) == (503, "no daily run yet; no backup yet")
