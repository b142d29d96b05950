"""A real villa server for black-box tests: `villa serve` (gunicorn) in its own process group, on a
temporary instance set up by `villa init`, with its stdout and stderr captured to files.

Shared by tests/security and tests/durability. SQLite by default; with VILLA_TEST_DATABASE_URL set,
each instance gets a fresh PostgreSQL schema (dropped at the end), as tests/conftest.py does.

Run as `python -m tests.security.live seed` (from the project root) it is the seeding helper that
the fixtures start in a subprocess: `villa init`, then the users read as JSON from stdin. Nothing in
the pytest process binds the app's database or keys, so the rest of the suite is untouched.
"""

import atexit
import contextlib
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"
COOKIE = "villa_session"
VILLA = (sys.executable, "-c", "from villa.cli import main; main()")  # the `villa` command line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_RUNNING: set = set()  # process groups of servers started and not yet stopped


@atexit.register
def _kill_leftovers():
    """Should a run end without its fixtures' teardown (an interrupt), no server outlives it."""
    for pgid in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


# --- the database behind an instance -----------------------------------------------------------


class Database:
    """A SQLite file in the instance folder, or a fresh schema of the PostgreSQL test database."""

    def __init__(self, instance: Path):
        self.base = os.environ.get("VILLA_TEST_DATABASE_URL")
        self.schema = None
        if not self.base:
            self.path = instance / "villa.db"
            self.url = f"sqlite:///{self.path}"
            return
        import psycopg

        self.path = None
        self.schema = f"villa_live_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        sep = "&" if "?" in self.base else "?"
        self.url = f"{self.base}{sep}options={quote(f'-c search_path={self.schema}')}"

    @property
    def is_sqlite(self) -> bool:
        return self.schema is None

    def query(self, sql: str, params=()) -> list[tuple]:
        """Read straight from the database (no app code): SQLite file or the schema."""
        if self.is_sqlite:
            import sqlite3

            conn = sqlite3.connect(self.path, timeout=30)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def tables_text(self) -> str:
        """Every row of every table as text: what someone reading the database would see."""
        if self.is_sqlite:
            import sqlite3

            conn = sqlite3.connect(self.path, timeout=30)
            try:
                return "\n".join(conn.iterdump())
            finally:
                conn.close()
        import psycopg

        lines = []
        with psycopg.connect(self.base, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            ).fetchall()
            for (table,) in tables:
                rows = conn.execute(f'SELECT t::text FROM "{self.schema}"."{table}" t').fetchall()
                lines += [f"{table}: {row}" for (row,) in rows]
        return "\n".join(lines)

    def files(self) -> list[Path]:
        """The database's own files (SQLite: the file, its WAL and shared memory); none for PostgreSQL."""
        if not self.is_sqlite:
            return []
        return [p for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")) if p.exists()]

    def drop(self):
        if self.schema:
            import psycopg

            with psycopg.connect(self.base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self.schema = None


# --- an instance and its server ----------------------------------------------------------------


@dataclass
class Instance:
    """An instance folder with its database, its users, and (when started) a gunicorn server."""

    folder: Path
    env_extra: dict = field(default_factory=dict)
    workers: int = 2
    users: dict = field(default_factory=dict)  # username -> role

    def __post_init__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.folder)
        self.secret_key = secrets.token_urlsafe(32)
        self.process = None
        self.port = None
        self.logs = []  # every log file this instance's servers wrote

    # environment and commands

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VILLA_", "WEB_CONCURRENCY"))}
        env.update(
            VILLA_INSTANCE=str(self.folder),
            VILLA_DATABASE_URL=self.db.url,
            VILLA_SECRET_KEY=self.secret_key,
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
        )
        env.update({k: str(v) for k, v in self.env_extra.items()})
        return env

    def villa(self, *args, input=None, timeout=120, check=True) -> subprocess.CompletedProcess:
        """Run the `villa` command line on this instance."""
        command = [*VILLA, *args]
        result = subprocess.run(
            command, cwd=PROJECT_ROOT, env=self.env(), input=input, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"villa {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}"
            )
        return result

    def seed(self, users: dict[str, tuple[str, str | None]]):
        """`villa init`, then these users (username -> (role, manager username)), all with PASSWORD."""
        payload = json.dumps(
            [{"username": u, "role": r, "manager": m, "password": PASSWORD} for u, (r, m) in users.items()]
        )
        result = subprocess.run(
            [sys.executable, "-m", "tests.security.live", "seed"],
            cwd=PROJECT_ROOT, env=self.env(), input=payload, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"seeding the instance failed: {result.stderr[-3000:]}")
        self.users.update({u: r for u, (r, _) in users.items()})

    # the server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60):
        """`villa serve` on a free loopback port, in a process group of its own; returns when ready."""
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self):
        """Start `villa serve` without waiting for it (see wait_ready)."""
        assert self.process is None, "already running"
        self.port = free_port()
        env = self.env()
        env.update(HOST="127.0.0.1", PORT=str(self.port), WEB_CONCURRENCY=str(self.workers))
        log_path = self.folder / f"server-{len(self.logs)}.log"
        self.logs.append(log_path)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*VILLA, "serve"],
            cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _RUNNING.add(self.process.pid)
        return self

    def wait_ready(self, timeout: float = 60):
        """Until /healthz answers 200 (every worker booted: the master answers only through them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                self.process = None
                raise AssertionError(f"villa serve exited early:\n{self.log_text()[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
                conn.close()
            time.sleep(0.1)
        log = self.log_text()
        self.stop()
        raise AssertionError(f"villa serve did not answer /healthz in {timeout} s:\n{log[-3000:]}")

    def kill(self):
        """SIGKILL the whole process group: the master and every worker, mid-whatever."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone(self.process.pid)
        self.process = None
        self._close_log()

    def stop(self, timeout: float = 15):
        """A graceful stop (SIGTERM to the group), then SIGKILL for whatever is left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._wait_group_gone(self.process.pid)
        self.process = None
        self._close_log()

    @staticmethod
    def _wait_group_gone(pgid: int, timeout: float = 10):
        """Workers are reaped by the master, or by init once it is gone: wait until none is left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                _RUNNING.discard(pgid)
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.05)

    def _close_log(self):
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def close(self):
        self.stop()
        self.db.drop()

    def backup(self, path: Path) -> Path:
        """`villa backup PATH` on this instance (the server may be running)."""
        self.villa("backup", str(path))
        assert path.exists(), f"villa backup wrote no {path}"
        return path

    def decrypt_backup(self, backup: Path, out: Path) -> Path:
        """The backup's decrypted snapshot (SQLite file or pg_dump archive), copied to `out`."""
        script = (
            "import shutil, sys; from villa import create_app; from villa.backup import opened_backup\n"
            "app = create_app()\n"
            "with app.app_context(), opened_backup(sys.argv[1]) as (header, plain):\n"
            "    shutil.copyfile(plain, sys.argv[2])\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, str(backup), str(out)], cwd=PROJECT_ROOT, env=self.env(),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return out

    # clients

    def client(self) -> "Client":
        return Client(self.base)

    def login(self, username: str, password: str = PASSWORD) -> "Client":
        return self.client().login(username, password)


# --- an HTTP client that behaves like one browser tab -------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_NO_TOKEN = object()


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, f"page has no csrf-token meta tag: {html[:300]!r}"
    return match.group(1)


class Client:
    """A cookie jar, the page's CSRF token, no automatic redirects: what one tablet tab holds."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.token = None
        self.username = None

    def request(self, method, path, data=None, headers=None, htmx=False, timeout=60) -> Response:
        url = path if path.startswith("http") else self.base + path
        if isinstance(data, dict | list):
            data = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if htmx:
            request.add_header("HX-Request", "true")
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, answer.headers, answer.read(), url)
        except urllib.error.HTTPError as answer:
            with answer:
                return Response(answer.code, answer.headers, answer.read(), url)

    def get(self, path, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path, data=None, token=_NO_TOKEN, **kwargs) -> Response:
        """POST a form; the page's CSRF token is added unless `token` says otherwise (None: none)."""
        values = dict(data or {})
        if token is _NO_TOKEN:
            token = self.token or self.refresh_token()
        if token is not None:
            values.setdefault("csrf_token", token)
        return self.request("POST", path, data=values, **kwargs)

    def refresh_token(self, path="/login") -> str:
        response = self.get(path)
        if response.status in (301, 302, 303):
            response = self.get(response.location)
        self.token = csrf_from(response.text)
        return self.token

    def login(self, username: str, password: str = PASSWORD) -> "Client":
        self.refresh_token("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status == 303, f"login as {username}: {response.status} {response.text[:300]}"
        self.username = username
        self.refresh_token("/")
        return self

    def cookie(self, name: str = COOKIE) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def set_cookie(self, value: str, name: str = COOKIE):
        """Put a cookie value into this jar, as if copied from another browser."""
        self.jar.clear()
        host = urllib.parse.urlparse(self.base).hostname
        self.jar.set_cookie(
            http.cookiejar.Cookie(
                0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {}
            )
        )

    def is_logged_in(self) -> bool:
        response = self.get("/")
        return response.status == 200


# --- the seeding helper (runs in a subprocess) --------------------------------------------------


def _seed_main():
    from argon2 import PasswordHasher
    from flask.cli import FlaskGroup

    import villa.auth
    from villa import create_app
    from villa.users import create_user

    # `villa init`, through the command line's own group.
    group = FlaskGroup(create_app=create_app, add_version_option=False, load_dotenv=False)
    group.main(["init"], prog_name="villa", standalone_mode=False)
    users = json.load(sys.stdin)
    # A cheap hash keeps seeding fast; the server rehashes to its parameters at the first login.
    villa.auth.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = create_app()
    with app.app_context():
        from villa.db import db

        with db.connection_context():
            for user in sorted(users, key=lambda u: u["role"] != "manager"):  # managers first
                create_user(
                    user["username"], user["role"], None, user["manager"], user["password"], must_change=False
                )


if __name__ == "__main__":
    if sys.argv[1:] == ["seed"]:
        _seed_main()
    else:
        sys.exit("usage: python -m tests.security.live seed < users.json")
