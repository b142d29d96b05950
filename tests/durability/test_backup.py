"""A backup taken while the desk keeps registering restores to a fresh instance holding every
registration acknowledged before the backup started, each whole; the restored SQLite file is sound."""

import shutil
import subprocess
import time

import pytest

from tests.durability.conftest import REPS, Load, half_written, integrity, missing_customers
from tests.security.live import PROJECT_ROOT, VILLA, Instance


def _has_backup_command(instance: Instance) -> bool:
    result = instance.villa("backup", "--help", check=False)
    return result.returncode == 0


def test_backup_under_load_restores_every_acknowledged_registration(durable, tmp_path):
    if not _has_backup_command(durable):
        pytest.skip("no `villa backup` command")
    load = Load(durable).start()
    target = tmp_path / "under-load.vbk"
    try:
        load.wait_for(20)
        started = time.monotonic()
        before = [a for a in load.acks if a.at < started]
        backup = subprocess.Popen(
            [*VILLA, "backup", str(target)], cwd=PROJECT_ROOT, env=durable.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        out, err = backup.communicate(timeout=120)
        finished = time.monotonic()
        during = [a for a in load.acks if started <= a.at < finished]
    finally:
        load.finish()
    assert backup.returncode == 0, f"villa backup failed under load: {err[-2000:]}"
    assert load.answers == [], f"answers other than 303 during the backup: {load.answers[:10]}"
    assert during, "no registration was acknowledged while the backup ran: it was not under load"

    restored = Instance(tmp_path / "restored", workers=1)
    try:
        # A fresh instance: its own (empty) database, the source's key file (backups hold no key).
        shutil.copy(durable.folder / "keys.json", restored.folder / "keys.json")
        restored.villa("restore", str(target), "--yes")
        if restored.db.is_sqlite:
            assert integrity(restored) == "ok"
        restored.users.update({u: r for u, (r, _) in REPS.items()})
        restored.start()
        assert missing_customers(restored, before) == {"by id": [], "by phone": []}
        assert half_written(restored) == [], "the backup holds a registration cut in half"
        count = restored.db.query("SELECT count(*) FROM customer")[0][0]
        assert len(before) <= count <= len(load.acks) + len(load.lost)
    finally:
        restored.close()
