"""Backups on the admin pages: the list, "back up now", and a restore test of one file."""

import json

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.backup import (
    NAME_PATTERN,
    BackupError,
    CopyFailed,
    Difference,
    backup_dir,
    copy_dir,
    copy_problem,
    human_size,
    keeping_policy,
    list_backups,
    make_backup,
    same_disk,
    verify_backup,
)
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog
from villa.web.admin import bp, section

PROBLEMS = {
    "not_ours": _l("This file is not a villa backup."),
    "damaged": _l("The backup is damaged."),
    "foreign_key": _l("This backup was made with another key file."),
    "other_kind": _l("This backup is from another kind of database (SQLite or PostgreSQL)."),
    "newer": _l("This backup is from a newer version of villa."),
    "missing_table": _l("Table %(table)s is missing after the restore."),
    "extra_table": _l("Table %(table)s is not in the backup."),
    "row_count": _l("Table %(table)s: %(expected)d rows expected, %(found)d restored."),
    "rows_differ": _l("Table %(table)s: the restored rows differ from the backup."),
}


def describe(problem: Difference | BackupError) -> str:
    """A problem in the user's language; the English line when there is no translation for it."""
    code = getattr(problem, "code", "")
    if code not in PROBLEMS:
        return _("The backup failed: %(reason)s", reason=str(problem))
    fields = problem.__dict__ if isinstance(problem, Difference) else {}
    return str(PROBLEMS[code]) % {k: fields.get(k, "") for k in ("table", "expected", "found")}


@bp.get("/backups")
@role_required("admin")
def backups():
    return _page()


@bp.post("/backups")
@role_required("admin")
def backup_now():
    try:
        info = make_backup()
    except CopyFailed as failed:  # written and kept; the second copy is what failed
        info = failed.info
        flash(_("The second copy failed: %(reason)s", reason=str(failed.problem)), "error")
    except BackupError as exc:
        flash(describe(exc), "error")
        return redirect(url_for("admin.backups"), 303)
    _audit("backup_made", info.path.name, {"customers": info.header.customers, "copied": bool(info.copy)})
    flash(
        _("Backup written: %(name)s (%(size)s).", name=info.path.name, size=human_size(info.size)), "success"
    )
    return redirect(url_for("admin.backups"), 303)


@bp.post("/backups/<name>/verify")
@role_required("admin")
def verify(name):
    path = backup_dir() / name
    if not NAME_PATTERN.match(name) or not path.is_file():
        abort(404)
    report = verify_backup(path)
    _audit("backup_verified", name, {"ok": report.ok})
    return _page(report=report, problem=describe(report.difference) if report.difference else "")


def _page(**context):
    folder, copies = backup_dir(), copy_dir()
    return render_template(
        "admin/backups.html",
        backups=list_backups(),
        folder=folder,
        copies=copies,
        copy_problem=copy_problem(copies) if copies else None,
        copies_on_same_disk=bool(copies) and same_disk(copies, folder if folder.exists() else folder.parent),
        kept=keeping_policy(),
        human_size=human_size,
        **context,
    )


def _audit(action: str, name: str, details: dict):
    AuditLog.create(
        actor=current_user._get_current_object(), action=action, target=f"backup:{name}"[:60],
        changes=json.dumps(details),
    )  # fmt: skip


section(
    "admin.backups",
    _l("Backups"),
    _l("Encrypted copies of the database: where they are kept, back up now, test a restore."),
)
