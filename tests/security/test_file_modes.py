"""The instance folder is the owner's alone: the database with its WAL and shared-memory files, the
key file, backups and uploads are created 0600 in folders 0700 (villa sets its umask at start-up),
and `villa init` takes back what an earlier version, a copy or an operator left readable."""

import stat
from pathlib import Path

from tests.security.factory import register

HARNESS_LOGS = "server-*.log"  # written by the test harness into the folder, not by villa


def _modes(folder: Path, skip=()) -> dict[str, str]:
    """Every path below the folder whose mode is not 0600 (files) or 0700 (folders)."""
    wrong = {}
    for path in sorted(folder.rglob("*")):
        if path in skip or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(folder))] = oct(mode)
    return wrong


def test_files_villa_creates_are_the_owners_alone(server, staff):
    register(staff["repa"], name="文件权限")  # a write: on SQLite the WAL and -shm files exist now
    server.villa("backup")  # the backup folder and a backup in it
    assert server.db.files() or not server.db.is_sqlite, "no database files to check"
    wrong = _modes(server.folder, skip=set(server.folder.glob(HARNESS_LOGS)))
    assert not wrong, f"readable by others: {wrong}"


def test_init_takes_back_files_left_readable(server):
    loose = [*server.db.files(), server.folder / "keys.json"]
    for path in loose:
        path.chmod(0o644)
    (server.folder / "copied-in").mkdir(mode=0o755)
    (server.folder / "copied-in" / "notes.txt").write_text("x")
    (server.folder / "copied-in" / "notes.txt").chmod(0o644)
    server.villa("init")
    assert _modes(server.folder) == {}
    assert stat.S_IMODE(server.folder.stat().st_mode) == 0o700
