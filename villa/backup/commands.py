"""What `villa backup`, `restore`, `daily` and the admin's backup page do: make, prune, restore,
verify and list backups, on SQLite or PostgreSQL alike."""

import logging
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from villa.backup.format import (
    BackupError,
    BackupHeader,
    Difference,
    current_kind,
    derive_key,
    file_digest,
    first_difference,
    key_check,
    opened_backup,
    read_backup,
    read_header,
    workdir,
    write_sealed,
)
from villa.backup.postgres import (
    pg_fingerprint,
    pg_schema,
    restore_postgres,
    restored_postgres_fingerprint,
    snapshot_postgres,
)
from villa.backup.sqlite import (
    check_sqlite_file,
    copy_sqlite,
    restored_sqlite_fingerprint,
    snapshot_sqlite,
    sqlite_fingerprint,
)
from villa.clock import OFFICE_TZ
from villa.crypto import keyring
from villa.db import MIGRATIONS_DIR, db, is_sqlite, migrate
from villa.instance import verify_keys
from villa.models import Setting

NAME_PATTERN = re.compile(r"^villa-(\d{8}-\d{6})(?:-(\d+))?\.vbk$")
LEFTOVER_SECONDS = 6 * 3600
log = logging.getLogger("villa.backup")


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
class VerifyReport:
    path: Path
    ok: bool
    difference: Difference | None
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0


def backup_dir() -> Path:
    return Path(current_app.config["BACKUP_DIR"])


def database_fingerprint() -> dict:
    """{table: (rows, sha256)} of the live database: raw stored values (ciphertext, not decrypted)."""
    with db.connection_context():
        if is_sqlite():
            with db.atomic():  # one read transaction: one consistent view of every table
                return sqlite_fingerprint(db.connection())
        with db.obj.atomic(isolation_level="REPEATABLE READ"):
            return pg_fingerprint(db.connection(), pg_schema(db.connection()))


def make_backup(path=None) -> BackupInfo:
    """Snapshot the database while it is in use, encrypt it; keep the last N in the backup folder."""
    started = time.monotonic()
    target = _target(path)
    with db.connection_context(), workdir(target.parent) as work:
        dump = work / "snapshot"
        if is_sqlite():
            fingerprint, migrations, schema = *snapshot_sqlite(dump), ""
        else:
            fingerprint, migrations, schema = snapshot_postgres(dump)
        digest, size = file_digest(dump)
        ring, salt = keyring(), secrets.token_bytes(16)
        key = derive_key(ring.data_keys[ring.current], salt)
        header = BackupHeader(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            kind=current_kind(),
            key_version=ring.current,
            salt=salt.hex(),
            key_check=key_check(key),
            migrations=migrations,
            fingerprint=fingerprint,
            dump_sha256=digest,
            dump_size=size,
            schema=schema,
        )
        write_sealed(dump, target, key, header)
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
                check_sqlite_file(plain)
                copy_sqlite(plain, db.obj.database)
            else:
                restore_postgres(plain, header)
    difference = first_difference(header.fingerprint, database_fingerprint())
    if difference:
        raise BackupError(f"the restored data differs from the backup: {difference}", "differs")
    applied = migrate()  # a backup from an older villa gets this version's tables
    with db.connection_context():
        verify_keys()
    log.info("restored from %s (made %s)", path, header.created_at)
    return RestoreReport(header, applied, time.monotonic() - started)


def verify_backup(path) -> VerifyReport:
    """Restore into a scratch database and compare every table with the backup's fingerprint."""
    started = time.monotonic()
    path = Path(path)
    try:
        with workdir(None) as work:
            header, plain = read_backup(path, work)
            if is_sqlite():
                found = restored_sqlite_fingerprint(plain, work / "scratch.db")
            else:
                with db.connection_context():
                    found = restored_postgres_fingerprint(plain, header)
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
