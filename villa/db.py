"""The database: one proxy every model binds to, opened from VILLA_DATABASE_URL."""

import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from peewee import SQL, DatabaseProxy, IntegrityError, NodeList, SqliteDatabase, Table
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from villa.config import PROJECT_ROOT

db = DatabaseProxy()
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    # FULL fsyncs the WAL at every commit: an acknowledged write survives a kill -9 or power loss.
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -32_000,
    # Deleted and overwritten content is zeroed, not left in free space: what anonymising removes
    # (names, notes, old ciphertexts) must not stay readable in the database file (PIPL).
    "secure_delete": 1,
}


# What the drivers raise when a unique index refuses a row (peewee's own queries wrap it for us).
DRIVER_INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)
# A worker serves one request at a time per thread; connections beyond this wait for one to come back.
MAX_CONNECTIONS = 32
# PostgreSQL connections older than this are closed on return instead of reused (server restarts,
# pgbouncer limits); SQLite connections stay for the life of the worker.
POSTGRES_STALE_SECONDS = 300


class DatabaseURLError(ValueError):
    """VILLA_DATABASE_URL names a database villa cannot open."""


def open_database(url: str):
    """Return an unconnected peewee database for a sqlite:/// or postgresql:// URL.

    Both keep their connections in a pool: `db.close()` hands the connection back and the next
    `db.connect()` takes it again, so a request does not pay for connecting, the pragmas and
    reading the schema (on SQLite that was most of what /healthz cost).
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/file.db or sqlite:////absolute/file.db, as SQLAlchemy writes them
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise DatabaseURLError("sqlite URL needs a file path, e.g. sqlite:///instance/villa.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            max_connections=MAX_CONNECTIONS,
            stale_timeout=None,
            timeout=10,  # seconds to wait for a free connection when all are in use
            # A pooled connection serves one thread at a time, but not always the thread that opened it.
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "villa",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            prefer_psycopg3=True,
            max_connections=MAX_CONNECTIONS,
            stale_timeout=POSTGRES_STALE_SECONDS,
            timeout=10,  # seconds to wait for a free connection when all are in use
            **options,
        )
    raise DatabaseURLError(f"unsupported database URL scheme {parsed.scheme!r}: use sqlite or postgresql")


def bind(url: str):
    """Point the proxy at the database for this URL; returns the real database."""
    database = open_database(url)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


def capped_count(query, cap: int) -> tuple[int, bool]:
    """How many rows the query has, up to `cap`, and whether it has more: the count stops reading
    at cap + 1 rows (a group's pool or day holds hundreds of thousands)."""
    counted = query.limit(cap + 1).count()
    return min(counted, cap), counted > cap


def unindexed(column):
    """The column, with SQLite told not to use its index (a unary +, the documented way).

    For queries that must be read along one particular index: SQLite picks by rules of thumb (and by
    statistics once `villa daily` has gathered them), not by the order the rows are needed in.
    PostgreSQL's planner has statistics and is left to choose.
    """
    return NodeList((SQL("+"), column), glue="") if is_sqlite() else column


def migrate() -> list[str]:
    """Apply pending migrations from migrations/; returns the names applied."""
    with db.connection_context():
        return Runner(db.obj, str(MIGRATIONS_DIR)).up()


def pending_migrations() -> list[str]:
    """The migrations in migrations/ that this database has not had yet (`villa init` applies them)."""
    with db.connection_context():
        return [m.name for m in Runner(db.obj, str(MIGRATIONS_DIR)).status() if m.applied is None and m.path]


def init_app(app):
    """Take a pooled connection for each request and give it back when the request ends."""
    bind(app.config["DATABASE_URL"])

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()


def forget_old_pages():
    """After removing personal data: copy the WAL into the database file and empty it.

    The WAL keeps whole page images from before each change, removed names included, until a
    checkpoint overwrites them. A reader still using those pages makes SQLite stop short; the next
    checkpoints (every 1,000 pages, and this call on the next run) finish the work. PostgreSQL
    reclaims dead rows itself (autovacuum).
    """
    if is_sqlite():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def write_transaction():
    """A transaction that will write: on SQLite it takes the write lock up front (BEGIN IMMEDIATE),
    so concurrent writers queue on the busy timeout instead of failing on a lock upgrade."""
    return db.obj.atomic("IMMEDIATE") if is_sqlite() else db.atomic()


def insert_rows(model, rows: list[dict]):
    """Write many new rows of a model: each value through its field's db_value (encryption
    included); fields the rows leave out take their default, or NULL. The rows share their keys.
    Call it inside a transaction; a unique index refusing a row raises IntegrityError."""
    given = rows[0].keys()
    fields = [
        f
        for f in model._meta.sorted_fields
        if f is not model._meta.primary_key and (f.name in given or f.default is not None)
    ]
    defaults = {
        f.name: f.default() if callable(f.default) else f.default for f in fields if f.name not in given
    }
    values = [
        [f.db_value(row[f.name] if f.name in given else defaults[f.name]) for f in fields] for row in rows
    ]
    insert_stored(model, [f.name for f in fields], values)


_one_row_inserts: dict = {}  # (database class, model) -> (INSERT SQL, its fields, whether it returns the id)


def insert_one(model, values: dict) -> int:
    """Write one new row with a value for every field but the id, and return the id it was given.

    For the hottest insert (a registration's customer, 50 columns): peewee builds an INSERT in Python
    column by column (about 0.3 ms for a customer), so the statement is built once per model with
    peewee's own `Model.insert(...).sql()` and each value goes through its field's db_value, as in
    save(). Call it inside a transaction; a unique index refusing the row raises IntegrityError.
    """
    key = (type(db.obj), model)
    compiled = _one_row_inserts.get(key)
    if compiled is None:
        primary_key = model._meta.primary_key
        fields = [f for f in model._meta.sorted_fields if f is not primary_key]
        query = model.insert({f: SQL(db.obj.param) for f in fields})
        returns_id = bool(db.obj.returning_clause)  # PostgreSQL: RETURNING; SQLite: lastrowid
        query = query.returning(primary_key) if returns_id else query
        sql, params = query.sql()
        if params:  # a value peewee added itself would be bound in the wrong place
            raise TypeError(f"an insert of {model.__name__} carries constants: {params!r}")
        compiled = _one_row_inserts[key] = (sql, fields, returns_id)
    sql, fields, returns_id = compiled
    cursor = db.execute_sql(sql, [f.db_value(values[f.name]) for f in fields])
    try:
        return cursor.fetchone()[0] if returns_id else cursor.lastrowid
    finally:
        cursor.close()


def insert_stored(model, names: list[str], rows: list):
    """Write rows whose values are already as the database stores them, one prepared INSERT run
    for every row (DB-API executemany): peewee's multi-row insert_many builds its SQL value by
    value, which is most of the time a large import or the benchmark's seeding takes."""
    columns = [model._meta.fields[name].column_name for name in names]
    table = Table(model._meta.table_name, columns).bind(db)
    sql, _ = table.insert([[None] * len(columns)], columns=[getattr(table, c) for c in columns]).sql()
    try:
        db.cursor().executemany(sql, rows)
    except DRIVER_INTEGRITY_ERRORS as exc:
        raise IntegrityError(*exc.args) from exc
