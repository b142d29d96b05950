"""Backups: an encrypted, consistent snapshot of the database, taken while the office works, and its restore.

format    the sealed file (header, encrypted chunks) and the fingerprint that checks a restore
sqlite    snapshot and restore of a SQLite database
postgres  pg_dump and psql replay of a PostgreSQL schema
keeping   which backups are kept (daily, weekly, monthly), the second copy, the read-back
commands  what `villa backup`, `restore`, `daily` and the admin's backup page call
"""

from villa.backup.commands import (
    BackupInfo,
    CopyFailed,
    RestoreReport,
    VerifyReport,
    backup_dir,
    check_restorable,
    copy_dir,
    database_fingerprint,
    human_size,
    keeping_policy,
    list_backups,
    make_backup,
    newest_backup,
    restore_backup,
    restore_test,
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
from villa.backup.keeping import NAME_PATTERN, Keeping, copy_problem, prune, retained, same_disk

__all__ = [
    "MAGIC",
    "NAME_PATTERN",
    "BackupError",
    "BackupHeader",
    "BackupInfo",
    "CopyFailed",
    "Keeping",
    "Difference",
    "RestoreReport",
    "VerifyReport",
    "backup_dir",
    "check_restorable",
    "copy_dir",
    "copy_problem",
    "database_fingerprint",
    "first_difference",
    "human_size",
    "keeping_policy",
    "list_backups",
    "make_backup",
    "newest_backup",
    "opened_backup",
    "prune",
    "read_backup",
    "read_header",
    "restore_backup",
    "restore_test",
    "retained",
    "same_disk",
    "usable_header",
    "verify_backup",
]
