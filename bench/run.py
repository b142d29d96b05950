"""villa's benchmark: seed N customers, serve with gunicorn, drive every hot endpoint with wrk.

    .venv/bin/python bench/run.py [--customers N] [--seconds S] [--connections C] [--smoke] [--keep]

(`make bench` runs it with BENCH_CUSTOMERS, BENCH_SECONDS, BENCH_CONNECTIONS.) Each endpoint's
throughput is compared with /healthz's from the same run, against the targets in SPEC.md
("Non-functional targets"). See bench/README.md.

Exit status: 0 when the harness worked, whatever the ratios (missed targets print FAIL lines);
1 when it did not (seeding or the server failed, an endpoint did not answer as expected, or a
registration under load was refused).
"""

import argparse
import http.cookiejar
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, not the project
    sys.path.insert(0, str(ROOT))

from bench.percentiles import percentile  # noqa: E402

RESULTS = BENCH / "results"
PASSWORD = "villa-demo-2026"  # the published demo password (villa/demo.py)
USER_AGENT = "villa-bench/1"  # Flask-Login ties the session to the User-Agent: wrk sends the same
MISS_PREFIX = "191"  # duplicate-check misses; seed.py never uses 191, 195 or 196
REGISTER_PREFIX = "195"  # fresh phones for the registration POST (bench/register.lua)
IMPORT_PREFIX = "196"  # rows of the generated Excel import
# Reported without a ratio target (issue 7: each renders well under a second at 1M customers);
# skipped with a note on a version that lacks them.
ANALYTICS = ("dashboard", "dashboard_90d", "ranking", "card")


@dataclass
class Endpoint:
    key: str
    label: str
    user: str | None  # who is logged in; None: anonymous
    paths: list[str]
    target: float | None = None  # minimum ratio to /healthz (SPEC), None: reported only
    expect: int = 200
    method: str = "GET"
    # Filled in by the run:
    requests: int = 0
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    statuses: dict = field(default_factory=dict)
    socket_errors: dict = field(default_factory=dict)
    ratio: float | None = None
    passed: bool | None = None
    server_cpu_ms: float | None = None  # gunicorn's CPU time (all processes) per request
    cpu_ratio: float | None = None  # /healthz's server CPU per request ÷ this one's
    alone_ms: float | None = None  # the first request, with no load: one sample of unloaded latency
    # ALONE_SAMPLES requests one after another, before the load, through the paths in turn:
    alone_p50_ms: float | None = None
    alone_p95_ms: float | None = None
    settle_s: float | None = None  # how long the server took to finish queued requests after wrk stopped
    baseline_rps: float | None = None  # the /healthz req/s this endpoint's ratio is taken against
    baseline_before: int | None = None  # index of the /healthz run just before this one
    baseline_after: int | None = None  # and just after
    note: str = ""
    others_cpu: float | None = None  # share of the machine's CPUs used by other processes meanwhile
    skipped: str = ""
    problem: str = ""


# ---------------------------------------------------------------------------------------------
# Entry point


def main(argv=None) -> int:
    args = _arguments(argv)
    if args.render:
        report = json.loads(args.render.read_text())
        if against := (report.get("scaling") or {}).get("against"):
            args.compare, args.customers = ROOT / against, report["customers"]
            report["scaling"] = _scaling(report, args)
        print(_table(report))
        return 0
    _check_wrk()
    kept = None  # what a kept instance's seeding wrote
    if args.instance:
        samples_file = args.instance / "samples.json"
        if not samples_file.exists():
            sys.exit(f"bench: {samples_file} is missing: seed the instance with `bench/seed.py --out` it")
        kept = json.loads(samples_file.read_text())
        args.customers = kept["customers"]
    work = Path(tempfile.mkdtemp(prefix=f"villa-bench-{args.customers}-"))
    env = _environment(work)
    schema = None
    if args.instance:  # a kept, seeded instance as it is: its folder, and its database as given
        env["VILLA_INSTANCE"] = str(args.instance)
        if args.database_url:
            env["VILLA_DATABASE_URL"] = args.database_url
    elif args.database_url:  # PostgreSQL: a schema of its own, dropped at the end (unless --keep)
        schema = f"villa_bench_{os.getpid()}_{secrets.token_hex(3)}"
        env["VILLA_DATABASE_URL"] = in_schema(args.database_url, schema)
    villa = _villa_command()
    report = {
        "database": "postgresql" if schema or args.database_url else "sqlite",
        "customers": args.customers,
        "smoke": args.smoke,
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "machine": _machine(),
        "wrk": {"threads": args.threads, "connections": args.connections, "seconds": args.seconds},
        "notes": [],
        "failures": [],
    }
    server = None
    try:
        if schema:
            create_schema(args.database_url, schema)
        if args.database_url:
            report["machine"]["postgresql"] = _server_version(env["VILLA_DATABASE_URL"])
        _log(f"instance {env['VILLA_INSTANCE']} ({report['database']})")
        if args.instance:
            report["seed"] = _kept_seed(kept, args.instance, env)
            report["notes"].append(f"a kept instance ({args.instance}), seeded earlier; no maintenance timed")
        else:
            _run(villa + ["init"], env)
            _run(villa + ["demo", "--customers", "0"], env)  # the demo logins, the rotation, materials
            report["seed"] = _seed(args, env, work, env.get("VILLA_DATABASE_URL"))
        _, printed = _run([sys.executable, "-c", BENCH_SETUP], env)
        samples = report["seed"].pop("samples")
        samples["register_rep_id"] = int(printed.split()[-1])
        server = Server(villa, env, work)
        server.start()
        endpoints = _endpoints(samples)
        baselines = _drive(endpoints, server, args, work, report, samples)
        report["memory"] = server.worker_memory()
        report["server_log_errors"] = server.log_errors()
        server.stop()
        server = None
        _judge(endpoints, baselines, report, args)
        if not args.instance:  # a backup, restore and import of a kept instance would change it
            _maintenance(villa, env, work, args, report)
    except HarnessError as exc:
        report["failures"].append(str(exc))
        _log(f"FAILED: {exc}")
    except Exception as exc:  # noqa: BLE001 - still write what was measured, and clean up
        report["failures"].append(f"{exc.__class__.__name__}: {exc}")
        _log(f"FAILED: {exc.__class__.__name__}: {exc}")
    finally:
        if server is not None:
            server.stop()
        if schema and not args.keep:
            drop_schema(args.database_url, schema)
    text = _table(report)
    print(text)
    _save(report, text)
    if args.keep:
        _log(f"kept {work}" + (f" and schema {schema}" if schema else ""))
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if report["failures"] else 0


def env_setting(name: str, default=None):
    """A harness setting from the environment. The Makefile exports some even when nobody set
    them: an empty one means "not given" (CI's load-test smoke once stopped on LOADTEST_WORKERS=)."""
    return os.environ.get(name) or default


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = env_setting
    parser.add_argument("--customers", type=int, default=int(env("BENCH_CUSTOMERS", "100000")))
    parser.add_argument("--seconds", type=int, default=int(env("BENCH_SECONDS", "10")),
                        help="per endpoint")  # fmt: skip
    parser.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "16")))
    parser.add_argument("--threads", type=int, default=int(env("BENCH_THREADS", "2")))
    parser.add_argument("--import-rows", type=int, default=None,
                        help="rows of the Excel import timed at the end (default: as many as customers, "
                             "at most 100000; --smoke: 2000)")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", default=env("BENCH_SMOKE", "") == "1",
                        help="only check that the harness works (CI): small import")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    parser.add_argument("--database-url", default=env("BENCH_DATABASE_URL", ""),
                        help="postgresql://… to seed and serve PostgreSQL, in a schema of its own "
                             "(default: SQLite in the instance folder)")  # fmt: skip
    parser.add_argument("--instance", type=Path, default=env("BENCH_INSTANCE") or None,
                        help="measure this kept instance folder as it is, no seeding: one that "
                             "`bench/seed.py --out FOLDER/samples.json` seeded (with --database-url: "
                             "its database, as given)")  # fmt: skip
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="print the table of an earlier run's results file, and stop")  # fmt: skip
    parser.add_argument("--no-pairing", dest="pairing", action="store_false",
                        help="run /healthz only first and last, not also between the endpoints")  # fmt: skip
    parser.add_argument("--compare", type=Path, default=None,
                        help="an earlier results JSON to compare ratios with (default: for N > 100000, "
                             "the newest 100000-customer run in bench/results/)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.import_rows is None:
        default = 2000 if args.smoke else min(100_000, args.customers)
        args.import_rows = int(env("BENCH_IMPORT_ROWS", str(default)))
    if args.customers < 100 or args.seconds < 1 or args.connections < 1 or args.threads < 1:
        parser.error("need at least 100 customers, 1 second, 1 connection and 1 thread")
    args.threads = min(args.threads, args.connections)
    return args


class HarnessError(RuntimeError):
    """The benchmark itself could not run as intended: its numbers would mean nothing."""


def _log(message: str):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _check_wrk():
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed: `apt-get install wrk` (Debian/Ubuntu), then run again")


# wrk asks as one desk user for thousands of different complete phone numbers a second, far past the
# office's lookup limits (villa.lookups): the bench would measure the 429s, not the duplicate check.
# The registrations go to a rep of the bench's own, with no customers before: the seed's demo reps
# hold 20-40% of all customers, and the cap check counts a rep's protected ones (up to the cap the
# seed lifted to 100,000), which no office's rep has. Prints that rep's id.
BENCH_SETUP = (
    "from villa import create_app; from villa.db import db; from villa.models import Setting, User\n"
    "with create_app().app_context(), db.connection_context():\n"
    "    Setting.write('lookup_limit_per_minute', 1_000_000)\n"
    "    Setting.write('lookup_limit_per_day', 100_000_000)\n"
    "    demo = User.get(User.username == 'rep')\n"
    "    rep, _ = User.get_or_create(username='bench_rep', defaults=dict(display_name='压测销售',\n"
    "        role='rep', manager=demo.manager, password_hash=demo.password_hash,\n"
    "        must_change_password=False))\n"
    "    print(rep.id)\n"
)


def _villa_command() -> list[str]:
    """The `villa` script next to this interpreter (the venv's), else the module's entry point."""
    script = Path(sys.executable).parent / "villa"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from villa.cli import main; main()"]


def _environment(work: Path) -> dict:
    """A private instance: SQLite in the work folder, whatever the caller's VILLA_* settings say."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VILLA_")}
    env["VILLA_INSTANCE"] = str(work / "instance")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(command: list[str], env: dict, timeout: float = 3600) -> tuple[float, str]:
    """Run a command; returns (seconds, stdout). A failure is a HarnessError with its stderr."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise HarnessError(f"{' '.join(command[-3:])} failed ({done.returncode}): {' | '.join(tail)}")
    return seconds, done.stdout


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _first_line(["wrk", "--version"]),
        "commit": _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "dirty": bool(_first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])),
    }


def _first_line(command) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return ((done.stdout or done.stderr).strip().splitlines() or [""])[0]


# ---------------------------------------------------------------------------------------------
# PostgreSQL (BENCH_DATABASE_URL; bench/loadtest.py too): a schema of its own


def in_schema(url: str, schema: str) -> str:
    """The PostgreSQL URL with `schema` first on the search path: every run has tables of its own."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={urllib.parse.quote(f'-c search_path={schema}')}"


def create_schema(url: str, schema: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')


def drop_schema(url: str, schema: str):
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.Error as exc:
        _log(f"could not drop schema {schema}: {exc}")


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _database_mb(instance: Path, url: str | None) -> float:
    if not url:
        return round((instance / "villa.db").stat().st_size / 2**20, 1)
    import psycopg

    with psycopg.connect(url) as conn:
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()[0]
    return round(int(size or 0) / 2**20, 1)


# ---------------------------------------------------------------------------------------------
# Seeding


def _seed(args, env, work: Path, database_url: str | None = None) -> dict:
    _log(f"seeding {args.customers:,} customers (bench/seed.py)")
    out = work / "samples.json"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(BENCH / "seed.py"), "--customers", str(args.customers), "--out", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    for line in done.stderr.splitlines():
        if line.startswith("seed:"):
            _log(line)
    if done.returncode != 0:
        raise HarnessError(f"seeding failed: {' | '.join(done.stderr.strip().splitlines()[-3:])}")
    result = json.loads(out.read_text())
    return {
        "customers": result["customers"],
        "visits": result["visits"],
        "followups": result["followups"],
        "audit_rows": result["audit_rows"],
        "seconds": result["seconds"],
        "wall_seconds": round(wall, 2),
        "workers": result["workers"],
        "database_mb": _database_mb(work / "instance", database_url),
        "samples": result,
    }


def _kept_seed(result: dict, instance: Path, env) -> dict:
    """What a kept instance's seeding wrote (its samples.json), and the database's size now."""
    size = _database_mb(instance, env.get("VILLA_DATABASE_URL"))
    keys = ("customers", "visits", "followups", "audit_rows", "seconds", "workers")
    return {**{key: result[key] for key in keys}, "database_mb": size, "samples": result}


# ---------------------------------------------------------------------------------------------
# The server and a small HTTP client


class Server:
    """`villa serve` (gunicorn, 2 workers unless told) on a free loopback port, in its own process group."""

    def __init__(self, villa: list[str], env: dict, work: Path, workers: int = 2):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(env, HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(workers))
        self.villa = villa
        self.log_path = work / "server.log"
        self.process = None

    def start(self):
        _log(f"starting villa serve on {self.base}")
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.villa + ["serve"], env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"villa serve exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    if answer.status == 200 and len(self.worker_pids()) >= 2:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise HarnessError("villa serve did not answer /healthz within 60 s")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master (`villa serve` execs gunicorn)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_memory(self) -> list[dict]:
        memory = []
        for pid in self.worker_pids():
            status = _proc_status(pid)
            memory.append({"pid": pid, "rss_mb": status.get("VmRSS"), "peak_rss_mb": status.get("VmHWM")})
        return memory

    def log_errors(self) -> list[str]:
        """Tracebacks and error lines the server logged (first few), to explain failed requests."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        bad = [line for line in lines if re.search(r"\b(ERROR|CRITICAL|Traceback|WORKER TIMEOUT)\b", line)]
        return bad[:20]

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        _log("stopping villa serve")
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        self.log.close()


def _proc_status(pid: int) -> dict:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = round(int(rest.split()[0]) / 1024, 1)  # kB -> MB
    except OSError:
        pass
    return values


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 is an answer to look at, not to follow


class Client:
    """A logged-in browser, as far as the benchmark needs one: cookies, CSRF token, User-Agent."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.csrf = ""
        self.rep_id = None

    def request(self, method: str, path: str, form: dict | None = None, timeout: float = 600):
        """(status, headers, body); status 0 and the error as the body when no answer came."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("User-Agent", USER_AGENT)
        if self.csrf and method != "GET":
            request.add_header("X-CSRFToken", self.csrf)
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return answer.status, dict(answer.headers), answer.read().decode(errors="replace")
        except urllib.error.HTTPError as answer:
            return answer.code, dict(answer.headers), answer.read().decode(errors="replace")
        except OSError as exc:  # refused, reset, timed out
            return 0, {}, f"no answer ({exc.__class__.__name__}: {exc})"

    def login(self, username: str):
        status, _, page = self.request("GET", "/login")
        token = _csrf_token(page)
        if status != 200 or not token:
            raise HarnessError(f"GET /login answered {status} without a CSRF token")
        form = {"csrf_token": token, "username": username, "password": PASSWORD, "next": ""}
        status, headers, _ = self.request("POST", "/login", form)
        if status != 303:
            raise HarnessError(f"logging in as {username} answered {status}, not 303")
        # Logging in starts a new session: the token comes from the first page of the new one.
        status, _, page = self.request("GET", "/reception/register" if username == "reception" else "/")
        self.csrf = _csrf_token(page)
        if status != 200 or not self.csrf:
            raise HarnessError(f"{username}'s first page answered {status} without a CSRF token")
        return page

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def _csrf_token(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    return found.group(1) if found else ""


# ---------------------------------------------------------------------------------------------
# What is measured


# The one ratio SPEC.md keeps (issue 16): the other hot paths are reported (throughput, CPU per
# request, single-request latency) and held to latency targets by `make loadtest`, not to ratios.
TARGETS = {"check": 0.6}


def _endpoints(samples: dict) -> list[Endpoint]:
    from villa.demo import SURNAMES

    rng = random.Random(8)
    phones = samples["known_phones"]
    ids = samples["rep_customer_ids"]
    if not phones or not ids:
        raise HarnessError("the seed returned no known phones or rep-owned customers")
    misses = [f"{MISS_PREFIX}{rng.randrange(10**8):08d}" for _ in range(500)]
    quote = urllib.parse.quote
    return [
        Endpoint("check_hit", "duplicate check, known phone", "reception",
                 [f"/reception/check?phone={p}" for p in phones], TARGETS["check"]),
        Endpoint("check_miss", "duplicate check, new phone", "reception",
                 [f"/reception/check?phone={p}" for p in misses], TARGETS["check"]),
        Endpoint("client", "client page /customers/<id>", "rep",
                 [f"/customers/{i}" for i in ids]),
        Endpoint("list", "customer list /customers/", "rep", ["/customers/"]),
        Endpoint("search", "list, search by surname", "rep",
                 [f"/customers/?q={quote(s)}" for s in SURNAMES]),
        Endpoint("register", "registration POST", "reception", ["/reception/register"],
                 expect=303, method="POST"),
        Endpoint("dashboard", "manager dashboard /analytics/", "manager", ["/analytics/"]),
        Endpoint("dashboard_90d", "dashboard, last 90 days", "manager", ["/analytics/?preset=90d"]),
        Endpoint("ranking", "rep ranking, last 90 days", "manager", ["/analytics/reps?preset=90d"]),
        Endpoint("card", "a rep's own card, last 90 days", "rep",
                 [f"/analytics/reps/{samples['rep_id']}?preset=90d"]),
    ]  # fmt: skip


def _healthz() -> Endpoint:
    return Endpoint("healthz", "/healthz", None, ["/healthz"])


def _drive(endpoints: list[Endpoint], server: Server, args, work: Path, report: dict, samples: dict):
    """/healthz, then each endpoint in turn, each followed by /healthz again (unless --no-pairing:
    then only at the end); returns the /healthz runs. An endpoint's ratio is taken against the mean
    of the /healthz runs just before and just after it, so a machine whose load drifts during the
    run skews the ratios less."""
    clients: dict[str, Client] = {}
    for username in sorted({e.user for e in endpoints if e.user}):
        client = Client(server.base)
        client.login(username)
        client.rep_id = samples["register_rep_id"]  # registrations go to the rep `bench_rep`
        clients[username] = client
    baselines: list[Endpoint] = []

    def measure(endpoint: Endpoint, client: Client | None) -> bool:
        if not _preflight(endpoint, client, server, report):
            return False
        _log(f"{endpoint.key}: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s")
        _wrk(endpoint, client, server, args, work)
        _settle(endpoint, server)
        _log(
            f"{endpoint.key}: {endpoint.rps:,.0f} req/s, p50 {_ms(endpoint.p50_ms)}, "
            f"p99 {_ms(endpoint.p99_ms)}, errors {endpoint.errors}, server CPU "
            f"{endpoint.server_cpu_ms or 0:.2f} ms/request, other processes "
            f"{endpoint.others_cpu or 0:.0%} of the CPUs; alone {_ms(endpoint.alone_ms)}"
        )
        return True

    def baseline():
        run = _healthz()
        if not measure(run, None):
            raise HarnessError(f"/healthz: {run.problem}")
        baselines.append(run)

    baseline()
    pending: list[Endpoint] = []  # measured since the last /healthz run
    for endpoint in endpoints:
        if args.pairing and pending:
            baseline()
            for earlier in pending:
                earlier.baseline_after = len(baselines) - 1
            pending = []
        endpoint.baseline_before = len(baselines) - 1
        if measure(endpoint, clients.get(endpoint.user)):
            pending.append(endpoint)
    baseline()
    for earlier in pending:
        earlier.baseline_after = len(baselines) - 1
    return baselines


def _settle(endpoint: Endpoint, server: Server, limit: float = 900):
    """Wait until the server has finished what wrk left queued (a sync worker answers every
    accepted connection, even after the client left): the next run must start on an idle server."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        asked = time.monotonic()
        status, _, _ = Client(server.base).request("GET", "/healthz", timeout=limit)
        if status == 200 and time.monotonic() - asked < 0.5:
            break
        time.sleep(0.2)
    endpoint.settle_s = round(time.monotonic() - started, 1)


def _preflight(endpoint: Endpoint, client: Client | None, server: Server, report: dict) -> bool:
    """One request through the client first: it proves the endpoint answers as expected, and it
    refreshes the session cookie (the idle-timeout stamp) that wrk will then send unchanged."""
    logged_in, client = client is not None, client or Client(server.base)
    started = time.perf_counter()
    status, headers, page = _one_request(endpoint, client, 0, f"0{time.time_ns() % 10**7:07d}")
    endpoint.alone_ms = round((time.perf_counter() - started) * 1000, 2)
    if endpoint.key in ANALYTICS and status == 404:
        endpoint.skipped = f"no {endpoint.paths[0]} in this version (404)"
        report["notes"].append(f"{endpoint.label}: skipped, {endpoint.skipped}")
        _log(f"{endpoint.key}: skipped, {endpoint.skipped}")
        return False
    if status != endpoint.expect:
        endpoint.problem = f"first request answered {status or page}, expected {endpoint.expect}"
        _log(f"{endpoint.key}: {endpoint.problem}")
        return False
    warned = 'data-testid="dup-warning"' in page
    if endpoint.key.startswith("check_") and warned != (endpoint.key == "check_hit"):
        endpoint.problem = "the first answer did not say what it should (known phone: a warning; new: none)"
        _log(f"{endpoint.key}: {endpoint.problem}")
        return False
    _alone(endpoint, client)
    if logged_in and headers.get("Set-Cookie") and endpoint.method == "GET":
        # Only the first answer may change the cookie; a second one that does would mean every
        # request of the run re-signs the session (a wrong User-Agent, or the idle stamp).
        _, again, _ = client.request("GET", endpoint.paths[0])
        if again.get("Set-Cookie"):
            report["notes"].append(f"{endpoint.label}: the server sets a new session cookie on every request")
    return True


ALONE_SAMPLES = 40


def _alone(endpoint: Endpoint, client: Client):
    """Single-request latency: ALONE_SAMPLES requests one after another on the idle server, through
    the endpoint's paths in turn (registrations: each a new phone); p50 and p95 of their times."""
    times, unexpected = [], 0
    for n in range(ALONE_SAMPLES):
        started = time.perf_counter()
        status, _, _ = _one_request(endpoint, client, n, f"9{n:02d}{time.time_ns() % 10**5:05d}")
        times.append((time.perf_counter() - started) * 1000)
        unexpected += status != endpoint.expect
    if unexpected:
        raise HarnessError(f"{endpoint.label}: {unexpected} of {ALONE_SAMPLES} single requests went wrong")
    endpoint.alone_p50_ms = round(percentile(times, 0.50), 2)
    endpoint.alone_p95_ms = round(percentile(times, 0.95), 2)


def _one_request(endpoint: Endpoint, client: Client, n: int, phone_digits: str):
    """The endpoint's n-th path (in turn), or for the registration a new phone: REGISTER_PREFIX and
    these 8 digits (wrk's register.lua numbers its own after a thread digit of 1 or 2)."""
    if endpoint.method == "POST":
        return _register_once(client, REGISTER_PREFIX + phone_digits)
    return client.request("GET", endpoint.paths[n % len(endpoint.paths)])


def _register_once(client: Client, phone: str):
    return client.request("POST", "/reception/register", _registration_form(client, phone))


def _registration_form(client: Client, phone: str | None) -> dict:
    """The desk's form as a browser sends it (every field present), for the rep `bench_rep`.

    The demo's rotation is on duty and `bench_rep` is not next: the form says why the walk-in goes
    to them anyway (the customer asked for them), as the desk must."""
    form = {
        "csrf_token": client.csrf, "visit_type": "visit", "name": "王测试", "gender": "U", "age_band": "",
        "alt_phone": "", "channel": "walk_in", "referrer_name": "", "broker_agency": "", "broker_name": "",
        "rep": str(client.rep_id), "unit_type": "", "area_band": "", "budget": "", "purpose": "",
        "grade": "C", "competing_projects": "", "notes": "", "hukou_local": "", "social_insurance_months": "",
        "homes_owned": "", "address": "", "wechat": "", "id_type": "resident", "id_number": "",
        "payment_method": "", "asset_band": "", "credit_notes": "", "consent": "y",
        "skip_reason": "customer_choice", "skip_note": "",
    }  # fmt: skip
    if phone is not None:
        form["phone"] = phone
    return form


def _wrk(endpoint: Endpoint, client: Client | None, server: Server, args, work: Path):
    env = dict(os.environ, BENCH_UA=USER_AGENT, BENCH_EXPECT=str(endpoint.expect),
               BENCH_COOKIE=client.cookie_header() if client else "")  # fmt: skip
    # wrk's timeout matches gunicorn's worker timeout (30 s): a slower request is lost either way.
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
               "--timeout", "30s"]  # fmt: skip
    if endpoint.method == "POST":
        form = _registration_form(client, None)
        # Each run's phones from a random start: a kept instance holds the earlier runs' registrations.
        env.update(BENCH_CSRF=client.csrf, BENCH_BODY=urllib.parse.urlencode(form),
                   BENCH_PHONE_PREFIX=REGISTER_PREFIX,
                   BENCH_PHONE_START=str(random.randrange(9_000_000)))  # fmt: skip
        command += ["-s", str(BENCH / "register.lua"), server.base + endpoint.paths[0]]
    else:
        paths = work / f"paths-{endpoint.key}.txt"
        paths.write_text("\n".join(endpoint.paths) + "\n")
        command += ["-s", str(BENCH / "get.lua"), server.base + endpoint.paths[0], "--", str(paths)]
    before = _cpu_snapshot(server)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.seconds + 180)
    after = _cpu_snapshot(server)
    if done.returncode != 0:
        endpoint.problem = f"wrk failed: {done.stderr.strip()[:200]}"
        return
    _parse_wrk(done.stdout, endpoint)
    _account_cpu(endpoint, before, after)


def _cpu_snapshot(server: Server) -> dict:
    """CPU seconds so far: the whole machine (busy), the server's processes, and our children (wrk)."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / ticks  # all but idle and iowait (no guest)
    served = 0.0
    for pid in [server.process.pid, *server.worker_pids()]:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            served += (int(stat[11]) + int(stat[12])) / ticks  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"at": time.monotonic(), "busy": busy, "server": served,
            "children": children.ru_utime + children.ru_stime,
            "self": time.process_time()}  # fmt: skip


def _account_cpu(endpoint: Endpoint, before: dict, after: dict):
    """Server CPU per request (less sensitive to a busy machine than req/s), and others' share."""
    delta = {key: after[key] - before[key] for key in before}
    if endpoint.requests:
        endpoint.server_cpu_ms = round(delta["server"] * 1000 / endpoint.requests, 3)
    ours = delta["server"] + delta["children"] + delta["self"]
    capacity = (os.cpu_count() or 1) * max(delta["at"], 1e-9)
    endpoint.others_cpu = round(max(0.0, delta["busy"] - ours) / capacity, 3)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float | None:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(found.group(1)) * _UNITS[found.group(2)] if found else None


def _parse_wrk(output: str, endpoint: Endpoint):
    """Requests/sec, p50/p99 (from --latency), and every kind of error wrk and the script saw."""
    if found := re.search(r"Requests/sec:\s+([\d.]+)", output):
        endpoint.rps = float(found.group(1))
    if found := re.search(r"(\d+) requests in", output):
        endpoint.requests = int(found.group(1))
    for percent, name in (("50", "p50_ms"), ("99", "p99_ms")):
        if found := re.search(rf"^\s+{percent}(?:\.000)?%\s+(\S+)", output, re.M):
            setattr(endpoint, name, _duration_ms(found.group(1)))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        kinds = dict(zip(("connect", "read", "write", "timeout"), map(int, found.groups()), strict=True))
        endpoint.socket_errors = {k: v for k, v in kinds.items() if v}
    if found := re.search(r"bench-statuses: (\S*)", output):
        endpoint.statuses = {k: int(v) for k, v in (p.split("=") for p in found.group(1).split(",") if p)}
    unexpected = int(found.group(1)) if (found := re.search(r"bench-unexpected: (\d+)", output)) else 0
    # The script counts every status that is not the expected one (it includes wrk's
    # "Non-2xx or 3xx responses"); failed connections and timeouts never got a status at all.
    endpoint.errors = unexpected + sum(endpoint.socket_errors.values())
    if not endpoint.requests:
        # The first request answered (see _preflight): under load none finished within the run.
        endpoint.note = "no request finished within the run"


def _ms(value) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} µs"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


# ---------------------------------------------------------------------------------------------
# Backup, restore, import (with the server stopped)


def _maintenance(villa, env, work: Path, args, report: dict):
    commands = _commands(villa, env)
    if "backup" in commands:
        path = work / "bench.vbk"
        seconds, out = _run(villa + ["backup", str(path)], env)
        report["backup"] = {"seconds": round(seconds, 2), "mb": round(path.stat().st_size / 2**20, 1),
                            "line": out.strip()}  # fmt: skip
        _log(f"backup: {seconds:.1f} s ({report['backup']['mb']} MB)")
        if "restore" in commands:
            seconds, out = _run(villa + ["restore", str(path), "--yes"], env)
            report["restore"] = {"seconds": round(seconds, 2), "line": out.strip()}
            _log(f"restore: {seconds:.1f} s")
        else:
            report["notes"].append("restore: skipped, no `villa restore` command")
    else:
        report["notes"].append("backup and restore: skipped, no `villa backup` command")
    if "import" in commands and args.import_rows > 0:
        sheet = work / "import.xlsx"
        started = time.perf_counter()
        _write_import_sheet(sheet, args.import_rows)
        made = time.perf_counter() - started
        seconds, out = _run(villa + ["import", str(sheet), "--apply", "--as", "admin"], env)
        found = re.search(r"imported (\d+)", out)
        imported = int(found.group(1)) if found else None
        report["import"] = {"rows": args.import_rows, "imported": imported, "seconds": round(seconds, 2),
                            "sheet_seconds": round(made, 2), "line": out.strip()}  # fmt: skip
        _log(f"import of {args.import_rows:,} rows: {seconds:.1f} s ({imported} imported)")
        if imported != args.import_rows:
            report["failures"].append(f"import: {imported} of {args.import_rows} rows: {out.strip()}")
    elif "import" not in commands:
        report["notes"].append("Excel import: skipped, no `villa import` command")


def _commands(villa, env) -> set[str]:
    done = subprocess.run(villa + ["--help"], env=env, cwd=ROOT, capture_output=True, text=True)
    section = done.stdout.partition("Commands:")[2]
    return {line.split()[0] for line in section.splitlines() if line.strip()}


def _write_import_sheet(path: Path, rows: int):
    """A legacy 客户登记表 as the office keeps it: Chinese headers, one customer a row."""
    from openpyxl import Workbook

    from villa import demo

    rng = random.Random(96)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户登记表")
    sheet.append(["姓名", "电话", "性别", "来源渠道", "登记日期", "置业顾问", "意向户型", "预算", "备注"])
    channels = ("自然到访", "网络广告", "线下活动")
    reps = ("rep", "rep2", "rep3", "rep4")
    today = datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
    for number in range(rows):
        gender = rng.choice("MF")
        unit, _, budgets = rng.choice(demo.UNITS)
        sheet.append([
            demo._name(rng, gender), f"{IMPORT_PREFIX}{number:08d}", "男" if gender == "M" else "女",
            rng.choice(channels), today - timedelta(days=rng.randrange(365), minutes=rng.randrange(600)),
            rng.choice(reps), unit.split()[0], rng.choice(budgets), rng.choice(demo.NOTES),
        ])  # fmt: skip
    book.save(path)


# ---------------------------------------------------------------------------------------------
# Judging and reporting


BUSY_MACHINE = 0.10  # other processes using more than this share of the CPUs make ratios unreliable
DRIFT = 0.15  # the two /healthz runs differing by more than this: the machine's load changed


def _judge(endpoints: list[Endpoint], baselines: list[Endpoint], report: dict, args):
    """Ratios to /healthz (the runs just before and after each endpoint), targets, and caveats."""
    runs = [b.rps for b in baselines if b.rps]
    report["baselines"] = [asdict(b) for b in baselines]
    if not runs:
        report["failures"].append("/healthz made no requests: no ratio can be computed")
        return
    report["healthz"] = _summary(baselines)
    if (max(runs) - min(runs)) / max(runs) > DRIFT:
        report["notes"].append(
            f"/healthz ran at {min(runs):,.0f} to {max(runs):,.0f} req/s in its {len(runs)} runs: the "
            "machine's load changed during the run, so the ratios are approximate"
        )
    everything = [*baselines, *endpoints]
    busy = [e for e in everything if (e.others_cpu or 0) > BUSY_MACHINE]
    if busy:
        worst = max(e.others_cpu for e in busy)
        report["notes"].append(
            f"other processes used up to {worst:.0%} of the CPUs during {len(busy)} of the {len(everything)} "
            "wrk runs: throughput and ratios are unreliable (CPU per request is less affected, not immune)"
        )
    for e in endpoints:
        if e.skipped:
            continue
        if e.problem:
            report["failures"].append(f"{e.label}: {e.problem}")
            continue
        pair = [baselines[i] for i in (e.baseline_before, e.baseline_after) if i is not None]
        pair = [b for b in pair if b.rps] or [b for b in baselines if b.rps]
        e.baseline_rps = round(sum(b.rps for b in pair) / len(pair), 1)
        e.ratio = round(e.rps / e.baseline_rps, 4)
        cpu = [b.server_cpu_ms for b in pair if b.server_cpu_ms]
        if cpu and e.server_cpu_ms:
            e.cpu_ratio = round(sum(cpu) / len(cpu) / e.server_cpu_ms, 4)
        if e.target is not None:
            e.passed = e.ratio >= e.target
        if e.note:
            report["notes"].append(
                f"{e.label}: {e.note} ({args.seconds} s); one request alone took {_ms(e.alone_ms)}"
            )
        if e.settle_s and e.settle_s > 2:
            report["notes"].append(
                f"{e.label}: the server needed {e.settle_s:.0f} s after the run to finish the requests "
                "wrk had left queued"
            )
        if e.errors and e.key == "register":
            report["failures"].append(f"{e.label}: {e.errors} registrations not answered 303 ({e.statuses})")
        elif e.errors:
            report["notes"].append(f"{e.label}: {e.errors} unexpected answers {e.statuses} {e.socket_errors}")
    report["endpoints"] = [asdict(e) for e in endpoints]
    report["scaling"] = _scaling(report, args)


def _summary(baselines: list[Endpoint]) -> dict:
    """The /healthz row of the table: the mean of its runs."""
    ran = [b for b in baselines if b.rps]

    def mean(name):
        values = [getattr(b, name) for b in ran if getattr(b, name) is not None]
        return round(sum(values) / len(values), 3) if values else None

    return {
        "key": "healthz", "label": f"/healthz (mean of {len(ran)} runs)", "rps": mean("rps"),
        "p50_ms": mean("p50_ms"), "p99_ms": mean("p99_ms"), "errors": sum(b.errors for b in ran),
        "server_cpu_ms": mean("server_cpu_ms"), "others_cpu": mean("others_cpu"),
        "alone_ms": mean("alone_ms"), "runs_rps": [round(b.rps) for b in ran],
    }  # fmt: skip


def _scaling(report: dict, args) -> dict | None:
    """Compare ratios with an earlier run: what more customers cost each endpoint (reported)."""
    earlier_path = args.compare
    if earlier_path is None and not args.smoke and args.customers > 100_000:
        runs = sorted(RESULTS.glob("*-100000.json"))
        database = report.get("database", "sqlite")
        runs = [p for p in runs if not (old := json.loads(p.read_text())).get("smoke")
                and old.get("database", "sqlite") == database]  # fmt: skip
        earlier_path = runs[-1] if runs else None
    if earlier_path is None:
        return None
    earlier = json.loads(Path(earlier_path).read_text())
    before = {e["key"]: e for e in earlier.get("endpoints", [])}
    rows = []
    for e in report["endpoints"]:
        old, new = (before.get(e["key"]) or {}).get("ratio"), e.get("ratio")
        if e["key"].startswith("healthz") or not old or new is None:
            continue
        loss = (old - new) / old
        old_cpu, new_cpu = (before.get(e["key"]) or {}).get("cpu_ratio"), e.get("cpu_ratio")
        cpu_loss = round((old_cpu - new_cpu) / old_cpu, 3) if old_cpu and new_cpu else None
        rows.append({"key": e["key"], "label": e["label"], "before": old, "after": new,
                     "loss": round(loss, 3), "cpu_before": old_cpu, "cpu_after": new_cpu,
                     "cpu_loss": cpu_loss})  # fmt: skip
    against = Path(earlier_path).resolve()
    shown = against.relative_to(ROOT) if against.is_relative_to(ROOT) else against
    return {"against": str(shown), "customers_before": earlier.get("customers"), "rows": rows}


def _table(report: dict) -> str:
    n = report["customers"]
    wrk = report["wrk"]
    lines = [
        f"villa benchmark: {n:,} customers{' (smoke)' if report['smoke'] else ''}, "
        f"{report['started_at']}, commit {report['machine']['commit']}"
        f"{' + local changes' if report['machine']['dirty'] else ''}",
        f"wrk -t{wrk['threads']} -c{wrk['connections']} -d{wrk['seconds']}s against villa serve "
        f"(gunicorn, 2 sync workers), {report['machine']['cpus']} CPUs shared with wrk, "
        + (
            f"PostgreSQL {report['machine'].get('postgresql', '')}"
            if report.get("database") == "postgresql"
            else f"SQLite {report['machine']['sqlite']}"
        ),
        "",
    ]
    header = ("endpoint", "req/s", "p50", "p99", "errors", "× healthz", "target", "",
              "CPU/req", "CPU ×", "others", "alone")  # fmt: skip
    rows = []
    if hz := report.get("healthz"):
        rows.append((
            hz["label"], _rps(hz["rps"]), _ms(hz["p50_ms"]), _ms(hz["p99_ms"]), str(hz["errors"]), "1.00",
            "—", "", _ms(hz["server_cpu_ms"]), "1.00", f"{hz['others_cpu']:.0%}", _ms(hz.get("alone_ms")),
        ))  # fmt: skip
    for e in report.get("endpoints", []):
        if e["skipped"]:
            rows.append((e["label"], "—", "—", "—", "—", "—", "—", "skipped", "", "", "", ""))
            continue
        verdict = "" if e["passed"] is None else ("pass" if e["passed"] else "FAIL")
        if e["problem"]:
            verdict = "BROKEN"
        rows.append((
            e["label"], _rps(e["rps"]), _ms(e["p50_ms"]), _ms(e["p99_ms"]), str(e["errors"]),
            _ratio(e["ratio"]),
            "—" if e["target"] is None else f"≥ {e['target']:.2f}", verdict,
            _ms(e["server_cpu_ms"]),
            _ratio(e.get("cpu_ratio")),
            "—" if e["others_cpu"] is None else f"{e['others_cpu']:.0%}",
            _ms(e.get("alone_ms")),
        ))  # fmt: skip
    lines += _columns(header, rows)
    lines += [
        "× healthz: req/s ÷ /healthz's req/s in the runs just before and after (the SPEC's ratio).",
        "CPU/req: the server's CPU time per request; CPU ×: /healthz's CPU/req ÷ this one's;",
        "others: the share of the CPUs that other processes used during the run;",
        "alone: the first request, unloaded (one sample; a worker compiles a page's templates on first use).",
    ]
    alone = [e for e in report["endpoints"] if e.get("alone_p50_ms") is not None and e["key"] != "healthz"]
    if alone:
        lines.append(f"one request at a time, unloaded ({ALONE_SAMPLES} each), p50 / p95:")
        lines += [f"  {e['label']}: {_ms(e['alone_p50_ms'])} / {_ms(e['alone_p95_ms'])}" for e in alone]
    lines.append("")
    if seed := report.get("seed"):
        lines.append(
            f"seed: {seed['customers']:,} customers, {seed['visits']:,} visits, {seed['followups']:,} "
            f"follow-ups, {seed['audit_rows']:,} audit rows in {seed['seconds']:.1f} s "
            f"({seed['workers']} preparing processes); database {seed['database_mb']:,} MB"
        )
    if memory := report.get("memory"):
        parts = [f"pid {m['pid']}: {m['rss_mb']} MB (peak {m['peak_rss_mb']} MB)" for m in memory]
        lines.append("worker memory (VmRSS after the runs): " + "; ".join(parts))
    if backup := report.get("backup"):
        lines.append(f"backup: {backup['seconds']:.1f} s ({backup['mb']} MB file)")
    if restore := report.get("restore"):
        lines.append(f"restore --yes: {restore['seconds']:.1f} s")
    if imported := report.get("import"):
        lines.append(
            f"import of {imported['rows']:,} Excel rows: {imported['seconds']:.1f} s "
            f"({imported['imported']} imported; writing the sheet took {imported['sheet_seconds']:.1f} s)"
        )
    if scaling := report.get("scaling"):
        lines.append("")
        lines.append(f"ratios against {scaling['customers_before']:,} customers ({scaling['against']}):")
        lines += _columns(
            ("endpoint", "× healthz before", "now", "loss", "CPU × before", "now", "loss"),
            [(r["label"], _ratio(r["before"]), _ratio(r["after"]), f"{r['loss']:+.0%}",
              _ratio(r.get("cpu_before")), _ratio(r.get("cpu_after")),
              "—" if r.get("cpu_loss") is None else f"{r['cpu_loss']:+.0%}") for r in scaling["rows"]],
        )  # fmt: skip
        lines.append("(a positive loss is a lower ratio at more customers)")
    for e in report.get("endpoints", []):
        if e["passed"] is False:
            lines.append(f"FAIL {e['label']}: {_ratio(e['ratio'])}× /healthz, target ≥ {e['target']:.2f}×")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    for line in report.get("server_log_errors") or []:
        lines.append(f"server log: {line[:160]}")
    for failure in report["failures"]:
        lines.append(f"HARNESS FAILURE: {failure}")
    return "\n".join(lines)


def _rps(value) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _ratio(value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value >= 0.01 or value == 0 else f"{value:.3f}"


def _columns(header, rows) -> list[str]:
    widths = [max(_width(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    out = []
    for number, row in enumerate([header, *rows]):
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            cells.append(cell + pad if i == 0 else pad + cell)
        out.append("  ".join(cells).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _save(report: dict, text: str):
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    n = report["customers"]
    json_path = RESULTS / f"{stamp}-{n}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    latest = f"latest-{n}{'-postgresql' if report.get('database') == 'postgresql' else ''}.txt"
    (RESULTS / latest).write_text(text + "\n")
    _log(f"results: {json_path.relative_to(ROOT)} and bench/results/{latest}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
