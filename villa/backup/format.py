"""The sealed backup file: its header, its encrypted chunks, and the fingerprint that checks it.

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
import os
import secrets
import shutil
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from villa.crypto import KeyFileError, KeyRing, keyring
from villa.db import is_sqlite

MAGIC = b"VILLABK1"
FORMAT_VERSION = 1
CHUNK_BYTES = 1 << 20
_U32 = struct.Struct(">I")
_CHUNK_HEAD = struct.Struct(">IB12s")
_AAD_TAIL = struct.Struct(">QB")
_MAX_HEADER_BYTES = 1 << 20
KIND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MIGRATION_TABLE = "schema_migration"  # playhouse.migrations' history of applied migrations


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message is one line, `code` says which case."""

    def __init__(self, message: str, code: str = "failed"):
        super().__init__(message)
        self.code = code


def damaged():
    return BackupError("backup is damaged", "damaged")


def _foreign():
    return BackupError("this backup was made with another key file", "foreign_key")


def not_initialised():
    return BackupError("the database has no villa schema yet: run `villa init`", "no_schema")


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


def current_kind() -> str:
    return "sqlite" if is_sqlite() else "postgresql"


# The fingerprint: rows and a hash per table, of the raw stored values (ciphertext stays ciphertext).


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


# Sealing and opening


def derive_key(material: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"villa-backup").derive(material)


def key_check(key: bytes) -> str:
    return hmac.new(key, b"villa backup key check", hashlib.sha256).hexdigest()


def write_sealed(plain: Path, target: Path, key: bytes, header: BackupHeader):
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
        raise damaged()
    body = source.read(_U32.unpack(raw)[0])
    try:
        return BackupHeader.from_bytes(body), body
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise damaged() from exc


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
    key = derive_key(material, bytes.fromhex(header.salt))
    if not hmac.compare_digest(key_check(key), header.key_check):
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
        raise damaged()
    return header, plain


def _open_chunks(source, key: bytes, context: bytes, plain: Path) -> str:
    aead, hasher, index = AESGCM(key), hashlib.sha256(), 0
    fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while True:
            head = source.read(_CHUNK_HEAD.size)
            if len(head) != _CHUNK_HEAD.size:
                raise damaged()  # cut short: the last chunk never came
            length, last, nonce = _CHUNK_HEAD.unpack(head)
            sealed = source.read(length + 16) if length <= CHUNK_BYTES else b""
            try:
                chunk = aead.decrypt(nonce, sealed, context + _AAD_TAIL.pack(index, last))
            except (InvalidTag, ValueError) as exc:
                raise damaged() from exc
            hasher.update(chunk)
            out.write(chunk)
            if last:
                break
            index += 1
        if source.read(1):
            raise damaged()
    return hasher.hexdigest()


@contextmanager
def opened_backup(path):
    """(header, decrypted snapshot), removed again afterwards."""
    with workdir(None) as work:
        yield read_backup(path, work)


@contextmanager
def workdir(near):
    work = Path(tempfile.mkdtemp(prefix=".villa-work-", dir=near))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def file_digest(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(CHUNK_BYTES):
            hasher.update(block)
    return hasher.hexdigest(), path.stat().st_size
