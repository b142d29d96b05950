"""Fixtures: an app on a temporary instance, clients that log in by role, customer factories.

One app serves the whole session (create_app runs once); each test gets a fresh database as
`villa init` leaves it, the key file and the app's config as they were at the start (SessionApp).
A test that needs create_app itself (config read only when the app is built) takes `make_app` or
`fresh_app`.

The suite runs on SQLite by default (in /dev/shm where there is one), and on PostgreSQL when
VILLA_TEST_DATABASE_URL is set: then each run works in a fresh schema of that database, dropped at
the end.
"""

import copy
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from peewee import AutoField, sort_models

import villa.auth
from villa import create_app, crypto
from villa.customers import set_id_number, set_phone
from villa.db import db, is_sqlite
from villa.instance import initialise
from villa.models import ALL_MODELS, Channel, Customer, Setting, User, now

PASSWORD = "correct-horse-battery"
# Tests create many users: a cheap hash keeps them fast; production parameters are untouched.
villa.auth.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("VILLA_TEST_DATABASE_URL")
    if not base:
        # In memory (/dev/shm) where there is one: the database is reset before every test, and on
        # a disk each reset's commit waits for an fsync.
        shm = Path("/dev/shm")
        if shm.is_dir() and os.access(shm, os.W_OK):
            folder = Path(tempfile.mkdtemp(prefix="villa-test-", dir=shm))
            yield f"sqlite:///{folder / 'villa.db'}"
            shutil.rmtree(folder, ignore_errors=True)
        else:
            yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'villa.db'}"
        return
    import psycopg

    schema = f"villa_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-c search_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def base_config(database_url, instance_dir):
    return {
        "INSTANCE_PATH": str(instance_dir),
        "DATABASE_URL": database_url,
        "KEYS_FILE": str(instance_dir / "keys.json"),
        "SECRET_KEY": "test-secret-key",
        "TESTING": True,
    }


class PostgresTemplate:
    """PostgreSQL: the rows `villa init` wrote, kept in a schema of their own, and one script that
    empties every table, copies them back and sets each id sequence as it was. (TRUNCATE of every
    table cost over a second a test; DELETE on tables this small, a few milliseconds.)"""

    def __init__(self):
        with db.connection_context():
            schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
            self.schema = f"{schema}_init"
            models = sort_models(ALL_MODELS)
            script = [f'DELETE FROM "{m._meta.table_name}";' for m in reversed(models)]
            with db.atomic():
                db.execute_sql(f'CREATE SCHEMA "{self.schema}"')
                for model in models:
                    table = model._meta.table_name
                    if model.select().exists():
                        db.execute_sql(f'CREATE TABLE "{self.schema}"."{table}" AS SELECT * FROM "{table}"')
                        script.append(f'INSERT INTO "{table}" SELECT * FROM "{self.schema}"."{table}";')
                    if isinstance(model._meta.primary_key, AutoField):
                        script.append(self._sequence_as_now(model))
        self.script = "\n".join(script)

    @staticmethod
    def _sequence_as_now(model) -> str:
        """The statement that sets the model's id sequence back to where it is now."""
        table, column = model._meta.table_name, model._meta.primary_key.column_name
        found = db.execute_sql("SELECT pg_get_serial_sequence(%s, %s)", (f'"{table}"', column))
        sequence = found.fetchone()[0]
        last, called = db.execute_sql(f"SELECT last_value, is_called FROM {sequence}").fetchone()
        return f"SELECT setval('{sequence}', {last}, {str(called).lower()});"

    def restore(self):
        with db.connection_context(), db.atomic():
            db.connection().execute(self.script)

    def drop(self):
        with db.connection_context():
            db.execute_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class SessionApp:
    """The app every test shares (create_app once a session), and what each test gets back fresh:
    the database as `villa init` left it, the key file, the database binding and the config."""

    def __init__(self, config):
        setup = create_app(dict(config), check_keys=False)
        with setup.app_context():
            initialise(config["KEYS_FILE"])
        db.obj.close_idle()
        self.app = create_app(dict(config))
        self.database = db.obj  # the session's pool: a test that builds an app of its own rebinds
        self.config = copy.deepcopy(dict(self.app.config))
        self.keys_path = Path(config["KEYS_FILE"])
        self.keys = self.keys_path.read_bytes()
        self.template = self.postgres = None
        if not is_sqlite():
            self.postgres = PostgresTemplate()
        else:
            # The initialised database, kept in memory and copied over the test database before
            # each test with SQLite's backup API (what `villa restore` uses): the pool's
            # connections stay open and see the copy.
            self.template = sqlite3.connect(":memory:", check_same_thread=False)
            with db.connection_context():
                db.connection().backup(self.template)

    def reset(self):
        """Before a test: everything the previous test may have changed, as it was at the start."""
        if db.obj is not self.database:  # a test built an app of its own (fresh_app, the demo)
            db.initialize(self.database)
        if not self.keys_path.exists() or self.keys_path.read_bytes() != self.keys:  # a rotation wrote it
            self.keys_path.write_bytes(self.keys)
        crypto.load_keys(self.keys_path)
        if dict(self.app.config) != self.config:
            self.app.config.clear()
            self.app.config.update(copy.deepcopy(self.config))
        if self.postgres is not None:
            self.postgres.restore()
            return
        db.connect(reuse_if_open=True)
        try:
            connection = db.connection()
            if connection.in_transaction:
                connection.rollback()
            self.template.backup(connection)
            # The previous test's pages out of the write-ahead log too: the file is the template's.
            db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()

    def release(self):
        """After a test: its connections handed back, none left idle in a pool of its own."""
        if not db.is_closed():
            db.close()
        if db.obj is not self.database:
            db.obj.close_idle()
            db.initialize(self.database)


@pytest.fixture(scope="session")
def _session_app(base_config):
    shared = SessionApp(base_config)
    yield shared
    if shared.template is not None:
        shared.template.close()
    if shared.postgres is not None:
        shared.postgres.drop()
    if not db.is_closed():
        db.close()
    db.obj.close_idle()


@pytest.fixture
def app(_session_app):
    """The session's app over a fresh database (as `villa init` leaves it), config as created.

    No app context is held open here: requests must each get their own, as in production
    (flask.g would otherwise carry the CSRF token from one request to the next)."""
    _session_app.reset()
    yield _session_app.app
    _session_app.release()


@pytest.fixture
def make_app(app, base_config):
    """make_app(**config) -> a new app built by create_app with these config overrides, on the
    test's database: for what create_app reads once (a gateway, proxies). The shared app is rebound
    to the database after the test."""

    def _make_app(**overrides):
        return create_app({**base_config, **overrides})

    return _make_app


@pytest.fixture
def fresh_app(make_app):
    """An app of its own for this test (create_app again), on the test's fresh database."""
    return make_app()


@pytest.fixture(scope="session")
def _cli_init(tmp_path_factory):
    """One `villa init` (a subprocess, as an operator runs it) for the whole session."""
    from tests.helpers import villa

    folder = tmp_path_factory.mktemp("cli-init")
    result = villa(folder, "init")
    assert result.returncode == 0, result.stderr
    return folder / "instance"


@pytest.fixture
def cli_instance(tmp_path, _cli_init):
    """tmp_path with an instance in tmp_path/instance as `villa init` leaves it (key file, SQLite
    database, folders and their modes), for tests.helpers.villa(tmp_path, ...)."""
    shutil.copytree(_cli_init, tmp_path / "instance")
    return tmp_path


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


class Session:
    """A test client that knows its CSRF token, as a browser page would."""

    def __init__(self, client, user=None):
        self.client, self.user, self.token = client, user, None

    def refresh_token(self, path="/login"):
        self.token = csrf_from(self.client.get(path, follow_redirects=True).get_data(as_text=True))
        return self.token

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, data=None, htmx=False, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token or self.refresh_token())
        headers = kwargs.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, data=data, headers=headers, **kwargs)

    def htmx_get(self, path, **kwargs):
        return self.client.get(path, headers={"HX-Request": "true"}, **kwargs)


def create_user(role, username=None, manager=None, password=PASSWORD, **fields):
    # Four random bytes: with two, a test that makes dozens of users now and then drew one twice.
    return User.create(
        username=username or f"{role}{secrets.token_hex(4)}",
        display_name=fields.pop("display_name", f"{role} 测试"),
        role=role,
        manager=manager,
        password_hash=villa.auth.hash_password(password),
        **fields,
    )


@pytest.fixture
def make_user(app):
    return create_user


@pytest.fixture
def login(app):
    """login(user) -> a Session logged in as that user, on its own cookie jar."""

    def _login(user, password=PASSWORD):
        session = Session(app.test_client(), user)
        session.refresh_token()
        response = session.post("/login", {"username": user.username, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        session.refresh_token("/")
        return session

    return _login


@pytest.fixture
def login_as(make_user, login):
    """login_as("rep") -> a logged-in Session for a new user of that role."""

    def _login_as(role, **fields):
        return login(make_user(role, **fields))

    return _login_as


_phone_counter = iter(range(10_000_000))


def next_phone() -> str:
    return f"+86139{next(_phone_counter):08d}"


def create_customer(owner=None, registered_by=None, phone=None, id_number=None, channel="walk_in", **fields):
    customer = Customer(
        name=fields.pop("name", "王小明"),
        channel=Channel.get(Channel.code == channel),
        owner=owner,
        registered_by=registered_by or owner or create_user("reception"),
        consent_at=now(),
        notice_version=Setting.read("privacy_notice_version", "test"),
        **fields,
    )
    set_phone(customer, phone or next_phone())
    if id_number:
        set_id_number(customer, fields.get("id_type", "resident"), id_number)
        customer.sensitive_consent_at = now()
    customer.save()
    return customer


@pytest.fixture
def make_customer(app):
    return create_customer


@pytest.fixture
def team(make_user):
    """(manager, rep): a manager and the rep of their team (the owner, in most tests)."""
    manager = make_user("manager")
    owner = make_user("rep", manager=manager)
    return manager, owner


def raw_column(field, row_id):
    """The stored bytes of one column, as the database holds them (no decryption)."""
    query = field.model.select(field).where(field.model.id == row_id)
    value = db.execute_sql(*query.sql()).fetchone()[0]
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


@pytest.fixture
def keyring(app):
    return crypto.keyring()
