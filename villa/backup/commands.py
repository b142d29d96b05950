"""What `villa backup`, `restore`, `daily` and the admin's backup page do: make, prune, restore,
verify and list backups, on SQLite or PostgreSQL alike."""

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from villa import settings
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
from villa.backup.keeping import (
    Keeping,
    age_key,
    backup_files,
    check_written,
    copy_backup,
    made_at,
    newest_first,
    prune,
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

log = logging.getLogger("villa.backup")


@dataclass
class BackupInfo:
    path: Path
    size: int
    header: BackupHeader
    seconds: float
    copy: Path | None = None  # the second copy, written and read back


class CopyFailed(BackupError):
    """The backup is written and kept, but its second copy could not be made or read back."""

    def __init__(self, info: BackupInfo, problem: BackupError):
        super().__init__(f"backup written: {info.path.name}; {problem}", "copy_failed")
        self.info, self.problem = info, problem


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


def copy_dir() -> Path | None:
    """The second destination (a mounted NAS or USB disk): VILLA_BACKUP_COPY_DIR, else the setting."""
    folder = current_app.config.get("BACKUP_COPY_DIR") or settings.read("backup_copy_dir")
    return Path(folder) if folder else None


def keeping_policy() -> Keeping:
    return Keeping(*(settings.read(f"backups_{kind}") for kind in ("daily", "weekly", "monthly")))


def newest_backup(folder: Path | None = None) -> tuple[Path, datetime] | None:
    """The newest backup in the folder and when it was made (naive UTC, as stored timestamps)."""
    ours = newest_first(backup_files(folder or backup_dir()))
    if not ours:
        return None
    made = made_at(ours[0]).replace(tzinfo=OFFICE_TZ).astimezone(UTC).replace(tzinfo=None)
    return ours[0], made


def database_fingerprint() -> dict:
    """{table: (rows, sha256)} of the live database: raw stored values (ciphertext, not decrypted)."""
    with db.connection_context():
        if is_sqlite():
            with db.atomic():  # one read transaction: one consistent view of every table
                return sqlite_fingerprint(db.connection())
        with db.obj.atomic(isolation_level="REPEATABLE READ"):
            return pg_fingerprint(db.connection(), pg_schema(db.connection()))


def make_backup(path=None) -> BackupInfo:
    """Snapshot the database while it is in use, encrypt it and read it back.

    Into the backup folder (no path): then prune the folder to the daily, weekly and monthly
    copies kept, and copy the backup into the second folder when one is set, read back and pruned
    alike; a copy that fails raises CopyFailed, the backup itself being kept."""
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
    _read_back(target, header)
    info = BackupInfo(target, target.stat().st_size, header, time.monotonic() - started)
    if path is None:
        prune(target.parent, keeping_policy())
        _second_copy(info)
    info.seconds = time.monotonic() - started
    log.info("backup written: %s (%d bytes, %.1f s)", target, info.size, info.seconds)
    return info


def _read_back(target: Path, header: BackupHeader):
    try:
        check_written(target, header, target.parent)
    except BackupError as exc:
        target.unlink(missing_ok=True)  # a backup that does not read back is no backup
        raise BackupError(f"the backup just written does not read back: {exc}", exc.code) from exc


def _second_copy(info: BackupInfo):
    folder = copy_dir()
    if folder is None:
        return
    try:
        copy = copy_backup(info.path, folder)
        try:
            check_written(copy, info.header, info.path.parent)
        except BackupError as exc:
            copy.unlink(missing_ok=True)
            raise BackupError(f"the copy in {folder} does not read back: {exc}", exc.code) from exc
        prune(folder, keeping_policy())
    except BackupError as exc:
        log.error("backup copy failed: %s", exc)
        raise CopyFailed(info, exc) from exc
    info.copy = copy


def _target(path) -> Path:
    if path is None or Path(path).is_dir():
        folder = Path(path) if path is not None else backup_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(OFFICE_TZ).strftime("%Y%m%d-%H%M%S")
        # Same second as an earlier backup: count on after the last one, even if that was pruned.
        taken = [age_key(p)[1] for p in backup_files(folder) if age_key(p)[0] == stamp]
        return folder / (f"villa-{stamp}-{max(taken) + 1}.vbk" if taken else f"villa-{stamp}.vbk")
    target = Path(path)
    if target.exists():
        raise BackupError(f"{target} already exists; refusing to overwrite it", "exists")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist", "no_folder")
    return target


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


def restore_test() -> VerifyReport:
    """The restore test of the newest backup in the backup folder; BackupError when it fails."""
    newest = newest_backup()
    if newest is None:
        raise BackupError(f"no backup to test: {backup_dir()} holds none", "no_backup")
    report = verify_backup(newest[0])
    if not report.ok:
        raise BackupError(f"restore test of {newest[0].name} failed: {report.difference}", "restore_test")
    return report


def list_backups(folder: Path | None = None) -> list[tuple[Path, BackupHeader | None, str | None]]:
    """The backups in the folder, newest first: (path, header or None, why it is unreadable)."""
    listed = []
    for path in newest_first(backup_files(folder or backup_dir())):
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
