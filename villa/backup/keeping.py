"""Which backups are kept, the second copy on another disk, and the read-back of a file just written.

Backups are kept as daily, weekly and monthly copies: the newest backup of each of the last
`daily` days that have one, of the last `weekly` ISO weeks and of the last `monthly` months (a
backup may count for all three). Every backup of the 24 hours before the newest is kept too: the
one an admin made before a risky change must outlive the nightly one after it. Days, weeks and
months are the office's, read from the file name (villa-YYYYMMDD-HHMMSS.vbk, office time).
"""

import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from villa.backup.format import BackupError, BackupHeader, read_backup, workdir
from villa.backup.sqlite import check_sqlite_file
from villa.settings import folder_problem

NAME_PATTERN = re.compile(r"^villa-(\d{8}-\d{6})(?:-(\d+))?\.vbk$")
LEFTOVER_SECONDS = 6 * 3600
RECENT = timedelta(hours=24)
COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class Keeping:
    """How many daily, weekly and monthly backups to keep."""

    daily: int
    weekly: int
    monthly: int


def backup_files(folder: Path) -> list[Path]:
    """Our backups in the folder (files named like ours; nothing else is ever touched)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and NAME_PATTERN.match(p.name)]


def age_key(path: Path) -> tuple[str, int]:
    stamp, n = NAME_PATTERN.match(path.name).groups()
    return stamp, int(n or 1)


def made_at(path: Path) -> datetime:
    """When the backup was made, in office time (naive), as its name says."""
    return datetime.strptime(age_key(path)[0], "%Y%m%d-%H%M%S")


def newest_first(paths) -> list[Path]:
    return sorted(paths, key=age_key, reverse=True)


def retained(paths, keeping: Keeping) -> set[Path]:
    """The backups to keep among these: those of the last 24 hours, and the newest of each recent
    day, week and month."""
    ordered = newest_first(paths)
    if not ordered:
        return set()
    newest = made_at(ordered[0])
    kept = {path for path in ordered if made_at(path) > newest - RECENT} | {ordered[0]}
    periods = (
        (keeping.daily, lambda moment: moment.date()),
        (keeping.weekly, lambda moment: moment.isocalendar()[:2]),
        (keeping.monthly, lambda moment: (moment.year, moment.month)),
    )
    for wanted, period_of in periods:
        seen = set()
        for path in ordered:
            period = period_of(made_at(path))
            if period in seen:
                continue
            if len(seen) == wanted:
                break
            seen.add(period)
            kept.add(path)
    return kept


def prune(folder: Path, keeping: Keeping) -> list[Path]:
    """Delete the backups in the folder that `keeping` does not keep; returns them."""
    ours = backup_files(folder)
    kept = retained(ours, keeping)
    doomed = [path for path in newest_first(ours) if path not in kept]
    for old in doomed:
        old.unlink(missing_ok=True)
    sweep_leftovers(folder)
    return doomed


def sweep_leftovers(folder: Path):
    # A backup killed half-way leaves its work folder (an unencrypted snapshot) or a partial file.
    cutoff = time.time() - LEFTOVER_SECONDS
    for path in folder.glob(".villa-*"):
        if path.lstat().st_mtime >= cutoff:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# The read-back and the second copy


def check_written(path: Path, header: BackupHeader, scratch_near: Path):
    """Read a backup just written back in full (every chunk authenticated, the snapshot's checksum
    compared) and make sure it is the backup that was made; BackupError if not."""
    with workdir(scratch_near) as work:
        found, plain = read_backup(path, work)
        if found.kind == "sqlite":
            check_sqlite_file(plain)
    if found.to_bytes() != header.to_bytes():
        raise BackupError(f"{path} holds another backup than the one just made", "damaged")


COPY_PROBLEMS = {
    "missing": "the copy folder {folder} is missing: is the NAS or USB disk mounted?",
    "not_folder": "the copy folder {folder} is not a folder",
    "unwritable": "cannot write to the copy folder {folder}: check its owner and permissions",
}


def copy_problem(folder: Path) -> str | None:
    """Why backups cannot be copied into this folder now (the operator's line), or None."""
    if not folder.is_absolute():
        return f"the copy folder {folder} is not a full path"
    problem = folder_problem(str(folder))
    return COPY_PROBLEMS[problem].format(folder=folder) if problem else None


def same_disk(folder: Path, other: Path) -> bool:
    """Are both folders on one file system? Then a second copy there guards against a deleted file,
    not against a failed disk."""
    try:
        return folder.stat().st_dev == other.stat().st_dev
    except OSError:
        return False


def copy_backup(source: Path, folder: Path) -> Path:
    """Copy a backup into the folder under the same name: written whole or not at all (a partial
    file renamed at the end), mode 0600, synced to the disk."""
    problem = copy_problem(folder)
    if problem:
        raise BackupError(problem, "copy_folder")
    target = folder / source.name
    partial = folder / f".{source.name}.part"
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot write to the copy folder {folder}: {exc.strerror}", "copy_folder") from exc
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as original:
            shutil.copyfileobj(original, out, COPY_BLOCK)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, target)
        _sync_folder(folder)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"copying to {folder} failed: {exc.strerror}", "copy_failed") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def _sync_folder(folder: Path):
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
