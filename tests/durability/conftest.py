"""The durability suite: registrations against a real `villa serve`, a SIGKILL mid-load, a backup
under load; then every acknowledged registration must still be there.

The live server and HTTP client are the security suite's (tests/security/live.py).
"""

import http.client
import threading
import time
import urllib.error
from dataclasses import dataclass, field

import pytest

from tests.security.factory import CUSTOMER_URL, new_phone, registration
from tests.security.live import Instance

REPS = {f"load{n}": ("rep", None) for n in range(6)}
# Checks each acknowledged phone at the desk. The reps have no manager, so every manager sees their
# customers in full: those lookups tell the checker nothing new and count against no lookup limit.
CHECKER = {"checker": ("manager", None)}


def pytest_configure(config):
    config.addinivalue_line("markers", "durability: crash and backup tests against a live `villa serve`")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/durability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.durability)


@pytest.fixture
def durable(tmp_path):
    """A fresh instance with six reps and a manager, served by gunicorn with 2 workers."""
    instance = Instance(tmp_path / "instance", workers=2)
    try:
        instance.seed({**REPS, **CHECKER})
        instance.start()
        yield instance
    finally:
        instance.close()


@dataclass
class Ack:
    phone: str
    customer_id: int
    at: float  # time.monotonic() when the answer had fully arrived


@dataclass
class Load:
    """Reps registering fresh customers as fast as the server answers, one thread per rep."""

    instance: Instance
    acks: list = field(default_factory=list)
    answers: list = field(default_factory=list)  # (status, phone) of every complete non-303 answer
    lost: list = field(default_factory=list)  # (phone, error): sent, but no complete answer came
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self):
        self.lock = threading.Lock()
        clients = [self.instance.login(username) for username in REPS]
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in clients]
        for thread in self.threads:
            thread.start()
        return self

    def _run(self, client):
        while not self.stop.is_set():
            phone = new_phone()
            try:
                response = client.post("/reception/register", registration(phone=phone), timeout=30)
            except (OSError, http.client.HTTPException, urllib.error.URLError) as error:
                with self.lock:
                    self.lost.append((phone, repr(error)))
                return  # the server is gone
            with self.lock:
                match = CUSTOMER_URL.match(response.location or "")
                if response.status == 303 and match:
                    self.acks.append(Ack(phone, int(match.group(1)), time.monotonic()))
                else:
                    self.answers.append((response.status, phone))

    def wait_for(self, count: int, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while len(self.acks) < count:
            assert time.monotonic() < deadline, f"only {len(self.acks)} registrations in {timeout} s"
            assert any(t.is_alive() for t in self.threads), f"every load thread stopped: {self.lost}"
            time.sleep(0.02)

    def finish(self, timeout: float = 60):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a load thread hangs"


def missing_customers(instance: Instance, acks: list[Ack]) -> dict:
    """Acknowledged registrations the instance does not have: by id in the database, and by phone
    through the desk's duplicate check (the blind index) over HTTP. The server must be running."""
    ids = {row[0] for row in instance.db.query("SELECT id FROM customer")}
    by_id = [a for a in acks if a.customer_id not in ids]
    client = instance.login(next(iter(CHECKER)))
    by_phone = [
        a for a in acks
        if 'data-testid="dup-warning"' not in client.get(f"/reception/check?phone={a.phone}", htmx=True).text
    ]  # fmt: skip
    return {"by id": [a.customer_id for a in by_id], "by phone": [a.phone for a in by_phone]}


def half_written(instance: Instance) -> list:
    """Customers without their first visit or their audit row: a registration cut in half."""
    return instance.db.query(
        "SELECT c.id FROM customer c WHERE NOT EXISTS "
        "(SELECT 1 FROM visit v WHERE v.customer_id = c.id AND v.is_first) "
        "OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.customer_id = c.id AND a.action = 'registered')"
    )


def integrity(instance: Instance) -> str:
    rows = instance.db.query("PRAGMA integrity_check")
    return ", ".join(str(r[0]) for r in rows)
