"""Backups: an encrypted, consistent snapshot of the database, taken while the office works, and its restore.

format    the sealed file (header, encrypted chunks) and the fingerprint that checks a restore
sqlite    snapshot and restore of a SQLite database
postgres  pg_dump and psql replay of a PostgreSQL schema
commands  what `villa backup`, `restore`, `daily` and the admin's backup page call
"""

from villa.backup.commands import (
    NAME_PATTERN,
    BackupInfo,
    RestoreReport,
    VerifyReport,
    backup_dir,
    check_restorable,
    database_fingerprint,
    human_size,
    list_backups,
    make_backup,
    prune,
    restore_backup,
    verify_backup,
)
from villa.backup.format import (
    MAGIC,
    BackupError,
    BackupHeader,
    Difference,
    first_difference,
    opened_backup,
    read_backup,
    read_header,
    usable_header,
)

__all__ = [
    "MAGIC",
    "NAME_PATTERN",
    "BackupError",
    "BackupHeader",
    "BackupInfo",
    "Difference",
    "RestoreReport",
    "VerifyReport",
    "backup_dir",
    "check_restorable",
    "database_fingerprint",
    "first_difference",
    "human_size",
    "list_backups",
    "make_backup",
    "opened_backup",
    "prune",
    "read_backup",
    "read_header",
    "restore_backup",
    "usable_header",
    "verify_backup",
]
