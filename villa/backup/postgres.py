"""Backups of a PostgreSQL schema: pg_dump inside the fingerprint's snapshot, and replay by psql.

The client tools get the connection from PG* variables, so the password is never on a command line.
"""

import os
import re
import secrets
import subprocess
import tempfile
from pathlib import Path

from peewee import DatabaseError

from villa.backup.format import (
    MIGRATION_TABLE,
    BackupError,
    BackupHeader,
    not_initialised,
    quote,
    rows_digest,
)
from villa.db import db

_PG_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "options": "PGOPTIONS",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}
# TOC entries outside any schema (the schema itself, its comment and grants): the target exists.
_SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:SCHEMA|COMMENT|ACL) - ")


def _pg_env() -> dict:
    env = dict(os.environ)
    params = db.obj.connect_params
    for name, variable in _PG_ENV.items():
        if params.get(name) not in (None, ""):
            env[variable] = str(params[name])
    env["PGDATABASE"] = db.obj.database
    return env


def pg_schema(conn) -> str:
    schema = conn.execute("SELECT current_schema()").fetchone()[0]
    if not schema:
        raise BackupError("the database's search_path names no existing schema", "no_schema")
    return schema


def pg_fingerprint(conn, schema: str) -> dict:
    """Call inside a REPEATABLE READ transaction: one snapshot for every table."""
    tables = conn.execute(
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
    ).fetchall()
    result = {}
    for n, (name,) in enumerate(tables):
        qualified = f"{quote(schema)}.{quote(name)}"
        order = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)", (qualified,),
        )] or [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum", (qualified,),
        )]  # fmt: skip
        # A server-side cursor streams the rows: a million customers never sit in memory at once.
        with conn.cursor(name=f"villa_fingerprint_{n}") as rows:
            rows.itersize = 2000
            rows.execute(f"SELECT * FROM {qualified} ORDER BY {', '.join(map(quote, order))}")
            result[name] = rows_digest(rows)
    return result


def snapshot_postgres(dump: Path):
    # pg_dump joins this transaction's snapshot, so the fingerprint taken here describes exactly
    # the rows in the dump, while the office goes on writing.
    conn = db.connection()
    with db.obj.atomic(isolation_level="REPEATABLE READ"):
        schema = pg_schema(conn)
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        run_tool(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--schema={quote(schema)}",
             f"--file={dump}"],
            env=_pg_env(),
        )  # fmt: skip
        fingerprint = pg_fingerprint(conn, schema)
        if MIGRATION_TABLE not in fingerprint:
            raise not_initialised()
        migrations = [
            r[0] for r in conn.execute(f"SELECT name FROM {quote(schema)}.{MIGRATION_TABLE} ORDER BY id")
        ]
    return fingerprint, migrations, schema


def restore_postgres(plain: Path, header: BackupHeader):
    """Replace the current schema's tables with the dump's, in one transaction."""
    conn = db.connection()
    schema = pg_schema(conn)
    live = {r[0] for r in conn.execute(
        "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s", (schema,)
    )}  # fmt: skip
    # Tables a later migration added are not in the backup: gone, so the data is the backup's alone.
    prelude = "".join(
        f"DROP TABLE IF EXISTS {quote(schema)}.{quote(t)} CASCADE;\n"
        for t in sorted(live - set(header.fingerprint))
    )
    _pg_replay(plain, header.schema, schema, clean=True, prelude=prelude)


def restored_postgres_fingerprint(plain: Path, header: BackupHeader) -> dict:
    scratch = f"villa_verify_{secrets.token_hex(6)}"
    try:
        db.execute_sql(f"CREATE SCHEMA {scratch}")
    except DatabaseError as exc:
        raise BackupError(
            f"cannot create a scratch schema for the test: {first_error_line(str(exc))}"
        ) from exc
    try:
        _pg_replay(plain, header.schema, scratch, clean=False)
        with db.obj.atomic(isolation_level="REPEATABLE READ"):
            return pg_fingerprint(db.connection(), scratch)
    finally:
        db.execute_sql(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")


def _pg_replay(plain: Path, source_schema: str, target_schema: str, clean: bool, prelude: str = ""):
    """pg_restore's SQL, moved into the target schema, run by psql as one transaction."""
    listing = run_tool(["pg_restore", "--list", str(plain)]).stdout.decode()
    toc = plain.with_name("toc.list")
    toc.write_text("\n".join(line for line in listing.splitlines() if not _SCHEMA_ENTRY.match(line)))
    rename = _schema_renamer(source_schema, target_schema) if source_schema != target_schema else None
    env = _pg_env()
    restore_args = ["pg_restore", "--file=-", "--no-owner", "--no-privileges", f"--use-list={toc}"]
    restore_args += ["--clean", "--if-exists"] if clean else []
    psql_args = ["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                 "--set=VERBOSITY=terse", "--file=-"]  # fmt: skip
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        try:
            psql = subprocess.Popen(
                psql_args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env
            )
            dumper = subprocess.Popen(
                [*restore_args, str(plain)], stdout=subprocess.PIPE, stderr=restore_err, env=env
            )
        except FileNotFoundError as exc:
            missing = exc.filename
            raise BackupError(f"{missing} not found: install the PostgreSQL client tools", "tool") from exc
        try:
            psql.stdin.write(prelude.encode())
            in_copy = False
            for line in dumper.stdout:
                if rename and not in_copy:
                    in_copy = line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;")
                    line = rename(line)
                elif in_copy:
                    in_copy = line != b"\\.\n"
                psql.stdin.write(line)
            psql.stdin.close()
        except BrokenPipeError:
            dumper.kill()  # psql stopped at an error; its message says which
        dumper.wait()
        psql.wait()
        for process, errors in ((psql, psql_err), (dumper, restore_err)):
            if process.returncode:
                errors.seek(0)
                name = process.args[0]
                raise BackupError(f"{name} failed: {first_error_line(errors.read())}", "tool")


def _schema_renamer(source: str, target: str):
    # Outside COPY data only: names in the SQL are schema-qualified (`src.customer`, 'src.seq').
    pattern = re.compile(rb'(?<![\w$."])(?:' + re.escape(source.encode()) + rb"|"
                         + re.escape(quote(source).encode()) + rb")\.")  # fmt: skip
    replacement = quote(target).encode() + b"."
    return lambda line: pattern.sub(replacement.replace(b"\\", b"\\\\"), line)


def run_tool(args, env=None, **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client tool; its failure becomes one line (the first error line)."""
    try:
        return subprocess.run(args, env=env, check=True, capture_output=True, **kwargs)
    except FileNotFoundError as exc:
        raise BackupError(f"{args[0]} not found: install the PostgreSQL client tools", "tool") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{args[0]} failed: {first_error_line(exc.stderr)}", "tool") from exc


def first_error_line(stderr) -> str:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines or ["no message"]
    return errors[0][:200]
