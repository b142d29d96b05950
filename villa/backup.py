"""Backups: an encrypted, consistent snapshot of the database, taken while the office works, and its restore.

A backup file (`villa-YYYYMMDD-HHMMSS.vbk`, office time, mode 0600) is

    b"VILLABK1" | u32 header length | header (JSON, UTF-8, readable without the key) | chunks
    chunk = u32 plaintext length | u8 last-chunk flag | 12-byte nonce | AES-256-GCM ciphertext + tag

The snapshot inside is the SQLite file (backup API) or a `pg_dump --format=custom` of the schema.
Its key is HKDF-SHA256 over data key `key_version` of the key file (salt from the header, info
b"villa-backup"): no key is in a backup, and the key file is needed to read one. Every chunk's
associated data is SHA-256(header) | chunk index | last-chunk flag, so an edited header, a reordered,
missing or extra chunk and a truncated file all fail authentication; the header's `key_check` tells a
foreign key file from damage. The header also holds the dump's SHA-256 and the fingerprint of the
snapshot (rows and a hash per table): that is the checksum, so there is no separate checksum file.
"""

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from peewee import DatabaseError

from villa.crypto import KeyFileError, KeyRing, keyring
from villa.db import MIGRATIONS_DIR, db, is_sqlite, migrate
from villa.instance import verify_keys
from villa.models import OFFICE_TZ, Setting

MAGIC = b"VILLABK1"
FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 20
_U32 = struct.Struct(">I")
_CHUNK_HEAD = struct.Struct(">IB12s")
_AAD_TAIL = struct.Struct(">QB")
_MAX_HEADER_BYTES = 1 << 20
NAME_PATTERN = re.compile(r"^villa-(\d{8}-\d{6})(?:-(\d+))?\.vbk$")
KIND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MIGRATION_TABLE = "schema_migration"  # playhouse.migrations' history of applied migrations
LEFTOVER_SECONDS = 6 * 3600
log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message is one line, `code` says which case."""

    def __init__(self, message: str, code: str = "failed"):
        super().__init__(message)
        self.code = code


def _damaged():
    return BackupError("backup is damaged", "damaged")


def _foreign():
    return BackupError("this backup was made with another key file", "foreign_key")


@dataclass
class BackupHeader:
    created_at: str  # ISO 8601, UTC
    kind: str  # sqlite | postgresql
    key_version: int
    salt: str  # hex, per backup
    key_check: str  # HMAC of a constant under the backup key: tells a foreign key file from damage
    migrations: list
    fingerprint: dict  # table -> (rows, sha256 of the rows' raw values)
    dump_sha256: str
    dump_size: int
    schema: str = ""  # PostgreSQL: the schema dumped
    format: int = FORMAT_VERSION

    @property
    def customers(self) -> int:
        return self.fingerprint.get("customer", (0, ""))[0]

    @property
    def rows(self) -> int:
        return sum(count for count, _ in self.fingerprint.values())

    @property
    def created(self) -> datetime:
        """Naive UTC, as every stored timestamp."""
        return datetime.fromisoformat(self.created_at).astimezone(UTC).replace(tzinfo=None)

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "BackupHeader":
        fields = json.loads(raw)
        if fields.get("format") != FORMAT_VERSION or fields.get("kind") not in KIND_LABELS:
            raise ValueError("unknown backup format")
        fields["fingerprint"] = {t: (int(n), str(h)) for t, (n, h) in fields["fingerprint"].items()}
        return cls(**fields)


@dataclass
class BackupInfo:
    path: Path
    size: int
    header: BackupHeader
    seconds: float


@dataclass
class RestoreReport:
    header: BackupHeader
    migrations_applied: list
    seconds: float


@dataclass
class Difference:
    """How a restored database first differs from the backup's fingerprint, or why it was unreadable."""

    code: str  # missing_table, extra_table, row_count, rows_differ, or a BackupError code
    table: str = ""
    expected: int = 0
    found: int = 0
    message: str = ""

    def __str__(self):
        return {
            "missing_table": f"table {self.table} is missing",
            "extra_table": f"table {self.table} is not in the backup",
            "row_count": f"table {self.table}: {self.expected} rows expected, {self.found} found",
            "rows_differ": f"table {self.table}: the rows differ",
        }.get(self.code, self.message)


@dataclass
class VerifyReport:
    path: Path
    ok: bool
    difference: Difference | None
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0


def current_kind() -> str:
    return "sqlite" if is_sqlite() else "postgresql"


def backup_dir() -> Path:
    return Path(current_app.config["BACKUP_DIR"])


# --- fingerprint -------------------------------------------------------------------------------


def database_fingerprint() -> dict:
    """{table: (rows, sha256)} of the live database: raw stored values (ciphertext, not decrypted)."""
    with db.connection_context():
        if is_sqlite():
            with db.atomic():  # one read transaction: one consistent view of every table
                return sqlite_fingerprint(db.connection())
        with db.obj.atomic(isolation_level="REPEATABLE READ"):
            return pg_fingerprint(db.connection(), pg_schema(db.connection()))


def sqlite_fingerprint(conn: sqlite3.Connection) -> dict:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    result = {}
    for name in names:
        columns = conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()  # cid, name, .., pk
        order = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]] or [c[1] for c in columns]
        rows = conn.execute(f"SELECT * FROM {quote(name)} ORDER BY {', '.join(map(quote, order))}")
        result[name] = rows_digest(rows)
    return result


def rows_digest(rows) -> tuple[int, str]:
    hasher, count = hashlib.sha256(), 0
    for row in rows:
        count += 1
        hasher.update(b"\x1e")
        for value in row:
            hasher.update(_encode(value))
    return count, hasher.hexdigest()


def _encode(value) -> bytes:
    """Each value with its type and length, so no two different rows hash alike."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        tag, data = b"T", b"1" if value else b"0"
    elif isinstance(value, bytes | bytearray | memoryview):
        tag, data = b"B", bytes(value)
    elif isinstance(value, str):
        tag, data = b"S", value.encode()
    elif isinstance(value, int):
        tag, data = b"I", str(value).encode()
    else:  # float, Decimal, date and time types
        iso = value.isoformat() if hasattr(value, "isoformat") else repr(value)
        tag, data = b"O", f"{type(value).__name__}:{iso}".encode()
    return tag + _U32.pack(len(data)) + data


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def first_difference(expected: dict, actual: dict) -> Difference | None:
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            return Difference("missing_table", table)
        if table not in expected:
            return Difference("extra_table", table)
        (want_rows, want_hash), (rows, digest) = expected[table], actual[table]
        if want_rows != rows:
            return Difference("row_count", table, want_rows, rows)
        if want_hash != digest:
            return Difference("rows_differ", table)
    return None


# --- making a backup ---------------------------------------------------------------------------


def make_backup(path=None) -> BackupInfo:
    """Snapshot the database while it is in use, encrypt it; keep the last N in the backup folder."""
    started = time.monotonic()
    target = _target(path)
    with db.connection_context(), _workdir(target.parent) as work:
        dump = work / "snapshot"
        if is_sqlite():
            fingerprint, migrations, schema = *_snapshot_sqlite(dump), ""
        else:
            fingerprint, migrations, schema = _snapshot_postgres(dump)
        digest, size = _file_digest(dump)
        ring, salt = keyring(), secrets.token_bytes(16)
        key = _derive(ring.data_keys[ring.current], salt)
        header = BackupHeader(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            kind=current_kind(),
            key_version=ring.current,
            salt=salt.hex(),
            key_check=_key_check(key),
            migrations=migrations,
            fingerprint=fingerprint,
            dump_sha256=digest,
            dump_size=size,
            schema=schema,
        )
        _write_sealed(dump, target, key, header)
        if path is None:
            prune(target.parent, Setting.read("backups_kept", 14))
    info = BackupInfo(target, target.stat().st_size, header, time.monotonic() - started)
    log.info("backup written: %s (%d bytes, %.1f s)", target, info.size, info.seconds)
    return info


def _target(path) -> Path:
    if path is None or Path(path).is_dir():
        folder = Path(path) if path is not None else backup_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(OFFICE_TZ).strftime("%Y%m%d-%H%M%S")
        # Same second as an earlier backup: count on after the last one, even if that was pruned.
        taken = [_age_key(p)[1] for p in backup_files(folder) if _age_key(p)[0] == stamp]
        return folder / (f"villa-{stamp}-{max(taken) + 1}.vbk" if taken else f"villa-{stamp}.vbk")
    target = Path(path)
    if target.exists():
        raise BackupError(f"{target} already exists; refusing to overwrite it", "exists")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist", "no_folder")
    return target


def _snapshot_sqlite(dump: Path):
    # One backup step (pages=-1) copies every page inside one read transaction: a consistent
    # snapshot that, in WAL mode, never blocks the writers and is never restarted by them.
    live = Path(db.obj.database)
    if not live.is_file():
        raise _not_initialised()
    source = sqlite3.connect(live, timeout=30)
    snapshot = sqlite3.connect(dump)
    try:
        source.backup(snapshot, pages=-1)
        fingerprint = sqlite_fingerprint(snapshot)
        if MIGRATION_TABLE not in fingerprint:
            raise _not_initialised()
        migrations = [r[0] for r in snapshot.execute(f"SELECT name FROM {MIGRATION_TABLE} ORDER BY id")]
    finally:
        snapshot.close()
        source.close()
    return fingerprint, migrations


def _not_initialised():
    return BackupError("the database has no villa schema yet: run `villa init`", "no_schema")


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in the folder (only files named like ours)."""
    ours = sorted(backup_files(folder), key=_age_key)
    doomed = ours[: max(len(ours) - max(int(keep), 1), 0)]
    for old in doomed:
        old.unlink(missing_ok=True)
    _sweep_leftovers(folder)
    return doomed


def _sweep_leftovers(folder: Path):
    # A backup killed half-way leaves its work folder (an unencrypted snapshot) or a partial file.
    cutoff = time.time() - LEFTOVER_SECONDS
    for path in folder.glob(".villa-*"):
        if path.lstat().st_mtime >= cutoff:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def backup_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and NAME_PATTERN.match(p.name)]


def _age_key(path: Path):
    stamp, n = NAME_PATTERN.match(path.name).groups()
    return stamp, int(n or 1)


# --- the file format ---------------------------------------------------------------------------


def _derive(material: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"villa-backup").derive(material)


def _key_check(key: bytes) -> str:
    return hmac.new(key, b"villa backup key check", hashlib.sha256).hexdigest()


def _write_sealed(plain: Path, target: Path, key: bytes, header: BackupHeader):
    header_bytes = header.to_bytes()
    context = hashlib.sha256(header_bytes).digest()
    aead = AESGCM(key)
    partial = target.with_name(f".{target.name}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(plain, "rb") as source:
            out.write(MAGIC + _U32.pack(len(header_bytes)) + header_bytes)
            index, chunk = 0, source.read(CHUNK_BYTES)
            while True:
                following = source.read(CHUNK_BYTES)
                last = not following
                nonce = secrets.token_bytes(12)
                sealed = aead.encrypt(nonce, chunk, context + _AAD_TAIL.pack(index, last))
                out.write(_CHUNK_HEAD.pack(len(chunk), last, nonce) + sealed)
                if last:
                    break
                index, chunk = index + 1, following
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_header(path) -> BackupHeader:
    """The header alone (no key needed): refuses files that are not ours or are cut short."""
    try:
        with open(path, "rb") as source:
            return _read_header(source)[0]
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}", "unreadable") from exc


def _read_header(source) -> tuple[BackupHeader, bytes]:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a villa backup", "not_ours")
    raw = source.read(_U32.size)
    if len(raw) != _U32.size or _U32.unpack(raw)[0] > _MAX_HEADER_BYTES:
        raise _damaged()
    body = source.read(_U32.unpack(raw)[0])
    try:
        return BackupHeader.from_bytes(body), body
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _damaged() from exc


def _backup_key(header: BackupHeader) -> bytes:
    ring = keyring()
    material = ring.data_keys.get(header.key_version)
    if material is None:  # rotated in another process since this one loaded the key file
        try:
            material = KeyRing.load(ring.path).data_keys.get(header.key_version)
        except KeyFileError:
            material = None
    if material is None:
        raise _foreign()
    key = _derive(material, bytes.fromhex(header.salt))
    if not hmac.compare_digest(_key_check(key), header.key_check):
        raise _foreign()
    return key


def usable_header(path) -> BackupHeader:
    """The header, once the key file and the database kind are known to fit (nothing decrypted yet)."""
    header = read_header(path)
    _backup_key(header)
    _check_kind(header)
    return header


def _check_kind(header: BackupHeader):
    if header.kind != current_kind():
        raise BackupError(
            f"this backup is from {KIND_LABELS[header.kind]}; "
            f"the current database is {KIND_LABELS[current_kind()]}",
            "other_kind",
        )


def read_backup(path, workdir=None) -> tuple[BackupHeader, Path]:
    """Check and decrypt a backup into a new file; the caller removes it (and its folder)."""
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="villa-backup-"))
    plain = workdir / "snapshot"
    try:
        with open(path, "rb") as source:
            header, header_bytes = _read_header(source)
            key = _backup_key(header)
            _check_kind(header)
            digest = _open_chunks(source, key, hashlib.sha256(header_bytes).digest(), plain)
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}", "unreadable") from exc
    if digest != header.dump_sha256 or plain.stat().st_size != header.dump_size:
        raise _damaged()
    return header, plain


def _open_chunks(source, key: bytes, context: bytes, plain: Path) -> str:
    aead, hasher, index = AESGCM(key), hashlib.sha256(), 0
    fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            head = source.read(_CHUNK_HEAD.size)
            if len(head) != _CHUNK_HEAD.size:
                raise _damaged()  # cut short: the last chunk never came
            length, last, nonce = _CHUNK_HEAD.unpack(head)
            sealed = source.read(length + 16) if length <= CHUNK_BYTES else b""
            try:
                chunk = aead.decrypt(nonce, sealed, context + _AAD_TAIL.pack(index, last))
            except (InvalidTag, ValueError) as exc:
                raise _damaged() from exc
            hasher.update(chunk)
            out.write(chunk)
            if last:
                break
            index += 1
        if source.read(1):
            raise _damaged()
    return hasher.hexdigest()


@contextmanager
def opened_backup(path):
    """(header, decrypted snapshot), removed again afterwards."""
    with _workdir(None) as work:
        yield read_backup(path, work)


@contextmanager
def _workdir(near):
    work = Path(tempfile.mkdtemp(prefix=".villa-work-", dir=near))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _file_digest(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(CHUNK_BYTES):
            hasher.update(block)
    return hasher.hexdigest(), path.stat().st_size


# --- restore and verify ------------------------------------------------------------------------


def check_restorable(header: BackupHeader):
    """Refuse a backup from a newer villa: this code would not know its tables."""
    known = {p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py")}
    unknown = [name for name in header.migrations if name not in known]
    if unknown:
        raise BackupError(
            f"this backup is from a newer villa (migration {unknown[0]} unknown): upgrade villa first",
            "newer",
        )


def restore_backup(path) -> RestoreReport:
    """Verify the whole backup first, then replace the current data with it (stop the server first)."""
    started = time.monotonic()
    with opened_backup(path) as (header, plain):
        check_restorable(header)
        with db.connection_context():
            if is_sqlite():
                _check_sqlite_file(plain)
                _copy_sqlite(plain, db.obj.database)
            else:
                _restore_postgres(plain, header)
    difference = first_difference(header.fingerprint, database_fingerprint())
    if difference:
        raise BackupError(f"the restored data differs from the backup: {difference}", "differs")
    applied = migrate()  # a backup from an older villa gets this version's tables
    with db.connection_context():
        verify_keys()
    log.info("restored from %s (made %s)", path, header.created_at)
    return RestoreReport(header, applied, time.monotonic() - started)


def _check_sqlite_file(plain: Path):
    conn = sqlite3.connect(plain)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _damaged() from exc
    finally:
        conn.close()
    if result != "ok":
        raise _damaged()


def _copy_sqlite(source_path, target_path):
    # The backup API writes through SQLite's own locking and WAL, so open connections see the
    # restored pages at their next transaction instead of a file swapped under them.
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()


def verify_backup(path) -> VerifyReport:
    """Restore into a scratch database and compare every table with the backup's fingerprint."""
    started = time.monotonic()
    path = Path(path)
    try:
        with _workdir(None) as work:
            header, plain = read_backup(path, work)
            if is_sqlite():
                _check_sqlite_file(plain)
                scratch = work / "scratch.db"
                _copy_sqlite(plain, scratch)
                conn = sqlite3.connect(scratch)
                try:
                    found = sqlite_fingerprint(conn)
                finally:
                    conn.close()
            else:
                with db.connection_context():
                    found = _restored_postgres_fingerprint(plain, header)
    except BackupError as exc:
        difference = Difference(exc.code, message=str(exc))
        return VerifyReport(path, False, difference, seconds=time.monotonic() - started)
    difference = first_difference(header.fingerprint, found)
    return VerifyReport(
        path, difference is None, difference, len(found), header.rows, time.monotonic() - started
    )


def list_backups(folder: Path | None = None) -> list[tuple[Path, BackupHeader | None, str | None]]:
    """The backups in the folder, newest first: (path, header or None, why it is unreadable)."""
    listed = []
    for path in sorted(backup_files(folder or backup_dir()), key=_age_key, reverse=True):
        try:
            listed.append((path, read_header(path), None))
        except BackupError as exc:
            listed.append((path, None, str(exc)))
    return listed


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


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


# --- PostgreSQL --------------------------------------------------------------------------------
# The client tools get the connection from PG* variables, so the password is never on a command line.

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


def _snapshot_postgres(dump: Path):
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
            raise _not_initialised()
        migrations = [
            r[0] for r in conn.execute(f"SELECT name FROM {quote(schema)}.{MIGRATION_TABLE} ORDER BY id")
        ]
    return fingerprint, migrations, schema


def _restore_postgres(plain: Path, header: BackupHeader):
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


def _restored_postgres_fingerprint(plain: Path, header: BackupHeader) -> dict:
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
