"""The bench harnesses' command lines, as `make loadtest` calls them: the Makefile exports its
variables even when nobody set them, so an empty one must mean "not given" (CI's smoke once
stopped on `LOADTEST_WORKERS=`)."""

from bench import loadtest


def test_empty_loadtest_variables_take_the_defaults(monkeypatch):
    for name in ("LOADTEST_WORKERS", "LOADTEST_CUSTOMERS", "LOADTEST_STEPS", "LOADTEST_STEP_SECONDS",
                 "LOADTEST_DATABASE_URL", "LOADTEST_INSTANCE", "LOADTEST_SMOKE"):  # fmt: skip
        monkeypatch.setenv(name, "")
    args = loadtest._arguments([])
    assert args.workers == 2
    assert args.customers == 20000
    assert args.steps == [25, 50, 100, 200, 300, 400]
    assert args.instance is None
    assert args.database_url == ""
    assert not args.smoke


def test_set_loadtest_variables_are_used(monkeypatch):
    monkeypatch.setenv("LOADTEST_WORKERS", "4")
    monkeypatch.setenv("LOADTEST_SMOKE", "1")
    args = loadtest._arguments([])
    assert args.workers == 4
    assert args.smoke
    assert args.steps == loadtest.SMOKE["steps"]


def test_empty_bench_variables_take_the_defaults(monkeypatch):
    from bench import run

    for name in ("BENCH_CUSTOMERS", "BENCH_SECONDS", "BENCH_CONNECTIONS", "BENCH_THREADS", "BENCH_INSTANCE"):
        monkeypatch.setenv(name, "")
    args = run._arguments([])
    assert (args.customers, args.seconds, args.connections, args.threads) == (100000, 10, 16, 2)
    assert args.instance is None


# Run in a child process: locust monkey-patches the standard library with gevent on import.
LOCUST_CHILD = r"""
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]  # as locust runs it: bench/ and the project's folder
import locustfile  # first: locust patches the standard library for gevent, the server below too
from locust.env import Environment
import http.server, json, threading

class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        code = int(self.path.strip("/"))
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"no")

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
threading.Thread(target=server.serve_forever, daemon=True).start()

seen = []
locustfile.Manager.host = f"http://127.0.0.1:{server.server_port}"
env = Environment(user_classes=[locustfile.Manager])
env.events.request.add_listener(lambda name, exception=None, **kw: seen.append([name, exception is None]))
user = locustfile.Manager(env)
user.csrf = ""  # on_start (the login) is not run here
user.post("/409", "expected", {}, expect=(200, 303, 409))
user.post("/500", "unexpected", {}, expect=(200, 303, 409))
print(json.dumps(seen))
"""


def test_the_load_test_counts_an_expected_409_as_answered_and_anything_else_as_failed(tmp_path):
    """Two managers deciding the same registration get a 409 the office allows for; the load test
    once counted it as a failed request and ended a step on it."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"password": "x"}))
    bench = Path(__file__).resolve().parent.parent / "bench"
    child = subprocess.run(
        [sys.executable, "-c", LOCUST_CHILD, str(bench), str(bench.parent)],
        env={"LOADTEST_PLAN": str(plan), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert json.loads(child.stdout.strip().splitlines()[-1]) == [["expected", True], ["unexpected", False]]


def test_both_harnesses_report_the_nearest_rank_percentile():
    from bench.percentiles import percentile

    times = [float(n) for n in range(20, 0, -1)]
    assert (percentile(times, 0.50), percentile(times, 0.95), percentile(times, 0.99)) == (10.0, 19.0, 20.0)
    assert percentile([7.0], 0.95) == 7.0 and percentile([], 0.5) is None


def test_a_big_step_logs_its_staff_in_no_faster_than_the_login_rate():
    # A thousand argon2 logins in 15 s kept a 2-CPU server busy for minutes: the backlog spilled
    # into the measured minute and every action looked slow.
    steps = loadtest._plan_steps(loadtest._arguments(["--steps", "10,1000"]))
    assert [s["staff"] for s in steps] == [10, 10, 1000]
    big = steps[-1]
    assert big["spawn_rate"] == loadtest.LOGIN_RATE and big["ramp"] >= 990 / loadtest.LOGIN_RATE
    assert steps[1]["spawn_rate"] == 1.0  # a small step is not slowed down


def test_wrk_keeps_the_session_cookie_the_server_sends_back_as_a_browser_does(tmp_path):
    """The server stamps a session with its last use at most every 30 s. wrk replaying the login's
    cookie had every request of a long run stamped and signed again, which no browser's request
    costs: the bench measured that, not the duplicate check."""
    import shutil
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path

    import pytest

    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (CI installs it: apt-get install wrk)")
    received = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - http.server's name
            received.append(self.headers.get("Cookie"))
            self.send_response(200)
            if len(received) == 1:
                self.send_header("Set-Cookie", "villa_session=fresh; HttpOnly; Path=/; SameSite=Lax")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = Path(__file__).resolve().parent.parent / "bench" / "get.lua"
    try:
        done = subprocess.run(
            ["wrk", "-t1", "-c1", "-d1s", "-s", str(script), f"http://127.0.0.1:{server.server_port}/"],
            env={"BENCH_COOKIE": "lang=en; villa_session=stale", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "bench-unexpected: 0" in done.stdout
    assert received[0] == "lang=en; villa_session=stale"
    assert len(received) > 2 and set(received[1:]) == {"lang=en; villa_session=fresh"}
