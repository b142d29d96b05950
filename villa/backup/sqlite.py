"""Backups of a SQLite database: a consistent snapshot taken while the office writes, and its restore."""

import sqlite3
from pathlib import Path

from villa.backup.format import MIGRATION_TABLE, damaged, not_initialised, quote, rows_digest
from villa.db import db


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


def snapshot_sqlite(dump: Path):
    # One backup step (pages=-1) copies every page inside one read transaction: a consistent
    # snapshot that, in WAL mode, never blocks the writers and is never restarted by them.
    live = Path(db.obj.database)
    if not live.is_file():
        raise not_initialised()
    source = sqlite3.connect(live, timeout=30)
    snapshot = sqlite3.connect(dump)
    try:
        source.backup(snapshot, pages=-1)
        fingerprint = sqlite_fingerprint(snapshot)
        if MIGRATION_TABLE not in fingerprint:
            raise not_initialised()
        migrations = [r[0] for r in snapshot.execute(f"SELECT name FROM {MIGRATION_TABLE} ORDER BY id")]
    finally:
        snapshot.close()
        source.close()
    return fingerprint, migrations


def check_sqlite_file(plain: Path):
    conn = sqlite3.connect(plain)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise damaged() from exc
    finally:
        conn.close()
    if result != "ok":
        raise damaged()


def copy_sqlite(source_path, target_path):
    # The backup API writes through SQLite's own locking and WAL, so open connections see the
    # restored pages at their next transaction instead of a file swapped under them.
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()


def restored_sqlite_fingerprint(plain: Path, scratch: Path) -> dict:
    """The fingerprint of the snapshot restored into a scratch file, as a restore would leave it."""
    check_sqlite_file(plain)
    copy_sqlite(plain, scratch)
    conn = sqlite3.connect(scratch)
    try:
        return sqlite_fingerprint(conn)
    finally:
        conn.close()
