"""Jobs that report: every run of `villa daily`, and each of its steps, leaves a job-run row.

    with daily_run() as run:                 # the run's own row: "daily"
        run_step("pool_release", release)    # one row per step, linked to the run

`run_step(name, fn)` records the start, calls `fn()`, and records the end, the outcome and what the
step counted: `fn` returns a mapping of counts ({"released": 3}), or a `StepReport` with the line
for the cron mail as well. A step that raises is recorded as failed with one line that holds no
personal data (`safe_error`), and the next step still runs: a failed retention must not cost the
night's backup. The run fails when any of its steps failed.
"""

import contextvars
import json
import logging
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from peewee import DatabaseError, fn

from villa import settings
from villa.backup import BackupError, copy_dir, newest_backup
from villa.clock import OFFICE_UTC_OFFSET
from villa.i18n import lazy_gettext as _l
from villa.models import JobRun, now

log = logging.getLogger("villa.jobs")
DAILY = "daily"
RESTORE_TEST = "restore_test"
# A run still "running" after this long was killed (kill -9, a reboot): it will never finish.
ABANDONED_AFTER = timedelta(hours=6)
_current_run = contextvars.ContextVar("villa_daily_run", default=None)
# What the pages call each job; a job without a label shows its name.
JOB_LABELS = {
    DAILY: _l("Nightly upkeep (villa daily)"),
    "pool_release": _l("Release lapsed protection to the public pool"),
    "retention": _l("Anonymise past retention, archive signed customers"),
    "statistics": _l("Refresh the database statistics"),
    "backup": _l("Backup"),
    RESTORE_TEST: _l("Restore test"),
    "report_expiry": _l("Expire old broker reports"),
    "lookup_counters": _l("Remove old lookup counters"),
    "digests": _l("Morning digests"),
    "notify_send": _l("Send staff notifications"),
}


@dataclass
class StepReport:
    """What a step returns when it has a line of its own for the cron mail."""

    line: str
    counts: dict = field(default_factory=dict)


class JobProblem(Exception):
    """A step that cannot do its work; the message is the operator's one line, free of personal data."""


def safe_error(exc: BaseException) -> str:
    """One line about a failure, without personal data.

    Villa's own problems (backups, jobs) and operating-system errors name files and reasons only;
    a database error's first line names the statement's trouble, its detail lines may quote values.
    Anything else could quote anything (a KeyError holds the key): only its kind is kept."""
    if isinstance(exc, JobProblem | BackupError | OSError):
        text = str(exc)
    elif isinstance(exc, DatabaseError):
        text = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        text = exc.__class__.__name__
    return (text.splitlines()[0] if text else exc.__class__.__name__)[:300]


def _finish(row: JobRun, outcome: str, summary: str = "", counts: Mapping | None = None, error: str = ""):
    row.finished_at, row.outcome = now(), outcome
    row.summary, row.error = summary[:300], error[:300]
    row.counts = json.dumps(dict(counts or {}), ensure_ascii=False)
    row.save()


def _start(name: str, run: JobRun | None) -> JobRun:
    return JobRun.create(name=name, run=run, started_at=now())


def run_step(name: str, step) -> JobRun:
    """Run one step, recorded; inside `daily_run()` it is one of that run's steps. Never raises for
    the step's own failure (it is recorded as failed); returns the row."""
    row = _start(name, _current_run.get())
    try:
        result = step()
    except Exception as exc:  # noqa: BLE001 - recorded as the step failing, the next step runs
        error = safe_error(exc)
        log.error("job %s failed: %s", name, error)
        _finish(row, "failed", error=error)
        return row
    except BaseException:
        _finish(row, "failed", error="interrupted")
        raise
    if isinstance(result, StepReport):
        _finish(row, "ok", result.line, result.counts)
    else:
        counts = dict(result or {})
        _finish(row, "ok", f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), counts)
    return row


@contextmanager
def daily_run():
    """The row of one `villa daily`: the steps run inside are its steps; it fails if one failed."""
    row = _start(DAILY, None)
    token = _current_run.set(row)
    try:
        yield row
    except BaseException as exc:
        _finish(row, "failed", error=safe_error(exc) if isinstance(exc, Exception) else "interrupted")
        raise
    finally:
        _current_run.reset(token)
    failed = [step.name for step in steps_of(row) if step.outcome != "ok"]
    if failed:
        _finish(row, "failed", error=f"failed: {', '.join(failed)}")
    else:
        _finish(row, "ok", summary=f"{len(steps_of(row))} steps")


def steps_of(run: JobRun) -> list[JobRun]:
    return list(JobRun.select().where(JobRun.run == run).order_by(JobRun.id))


# What the admin home, /healthz/ready and /metrics read.


def last_daily() -> JobRun | None:
    """The latest `villa daily` that has ended, or that was abandoned while running.

    A run under way does not count yet: the one before it still says how last night went."""
    runs = JobRun.select().where(JobRun.name == DAILY, JobRun.run.is_null()).order_by(JobRun.id.desc())
    for run in runs.limit(5):
        if run.outcome != "running" or run.started_at < now() - ABANDONED_AFTER:
            return run
    return None


def last_success(name: str) -> JobRun | None:
    return (
        JobRun.select()
        .where(JobRun.name == name, JobRun.outcome == "ok")
        .order_by(JobRun.finished_at.desc())
        .first()
    )


def latest_by_name() -> dict[str, JobRun]:
    """Each job's latest ended run, by name (the daily run and every step)."""
    latest = (
        JobRun.select(JobRun.name, fn.MAX(JobRun.id).alias("last"))
        .where(JobRun.outcome != "running")
        .group_by(JobRun.name)
    )
    ids = [row.last for row in latest]
    return {run.name: run for run in JobRun.select().where(JobRun.id.in_(ids))} if ids else {}


def last_successes() -> dict[str, datetime]:
    rows = (
        JobRun.select(JobRun.name, fn.MAX(JobRun.finished_at).alias("at"))
        .where(JobRun.outcome == "ok")
        .group_by(JobRun.name)
        .tuples()
    )
    return {name: at for name, at in rows}


def outcome_counts() -> dict[tuple[str, str], int]:
    rows = (
        JobRun.select(JobRun.name, JobRun.outcome, fn.COUNT(JobRun.id))
        .where(JobRun.outcome != "running")
        .group_by(JobRun.name, JobRun.outcome)
        .tuples()
    )
    return {(name, outcome): count for name, outcome, count in rows}


def restore_test_due(today: date) -> bool:
    """Is the weekly restore test due? On the office's set weekday, and whenever the last good one
    is more than 7 days old; never twice in one day."""
    last = last_success(RESTORE_TEST)
    if last is None:
        return True
    if (last.finished_at + OFFICE_UTC_OFFSET).date() == today:
        return False
    weekly = today.weekday() == settings.read("restore_test_weekday")
    return weekly or last.finished_at < now() - timedelta(days=7)


OUTCOME_LABELS = {"ok": _l("Done"), "failed": _l("Failed"), "running": _l("Did not finish")}
# What a step did, in the reader's language, from its counts (the cron mail has the English line).
STEP_WORDS = {
    "pool_release": _l("%(released)d customers released to the public pool"),
    "retention": _l(
        "%(anonymised)d customers anonymised, %(archived)d archived, "
        "%(reports_anonymised)d pre-registrations anonymised"
    ),
    "report_expiry": _l("%(expired)d pre-registrations expired"),
    "lookup_counters": _l("%(pruned)d old lookup counters removed"),
    "statistics": _l("statistics refreshed"),
    "backup": _l("backup of %(customers)d customers; copies kept: %(copies)d"),
    RESTORE_TEST: _l("%(tables)d tables and %(rows)d rows restored exactly"),
    "digests": _l("digests for %(told)d reps, %(quiet)d with nothing to tell"),
    "notify_send": _l("%(sent)d sent, %(retrying)d to retry, %(failed)d given up"),
}


@dataclass
class Upkeep:
    """How the nightly upkeep stands: the last daily run with its steps, the newest backup's age,
    the last restore test."""

    daily: JobRun | None
    steps: list
    backup: Path | None
    backup_made: datetime | None  # naive UTC
    limit_hours: int
    restore_test: JobRun | None
    copy_folder: Path | None = None

    @staticmethod
    def label(name: str):
        return JOB_LABELS.get(name, name)

    @staticmethod
    def outcome_label(outcome: str):
        return OUTCOME_LABELS.get(outcome, outcome)

    @staticmethod
    def did(step: JobRun) -> str:
        """What a step that ended well did, from its counts; its own line when there are no words for it."""
        words = STEP_WORDS.get(step.name)
        try:
            return str(words) % step.count_map if words is not None else step.summary
        except (KeyError, TypeError):
            return step.summary

    @property
    def backup_hours(self) -> float | None:
        if self.backup_made is None:
            return None
        return max((now() - self.backup_made).total_seconds(), 0) / 3600

    @property
    def backup_too_old(self) -> bool:
        return self.backup_made is None or self.backup_hours > self.limit_hours

    @property
    def failed_steps(self) -> list[str]:
        return [step.name for step in self.steps if step.outcome != "ok"]

    def problems(self) -> list[str]:
        """What a monitor is told, in short plain English; empty when all is well."""
        found = []
        if self.daily is None:
            found.append("no daily run yet")
        elif self.daily.outcome == "running":
            found.append("last daily run did not finish")
        elif self.daily.outcome != "ok":
            found.append(f"last daily run failed: {', '.join(self.failed_steps) or 'daily'}")
        if self.backup_made is None:
            found.append("no backup yet")
        elif self.backup_too_old:
            found.append(f"backup {int(self.backup_hours)} hours old")
        return found


def upkeep() -> Upkeep:
    daily = last_daily()
    newest = newest_backup()
    tests = JobRun.select().where(JobRun.name == RESTORE_TEST, JobRun.outcome != "running")
    return Upkeep(
        copy_folder=copy_dir(),
        daily=daily,
        steps=steps_of(daily) if daily else [],
        backup=newest[0] if newest else None,
        backup_made=newest[1] if newest else None,
        limit_hours=settings.read("backup_age_limit_hours"),
        restore_test=tests.order_by(JobRun.id.desc()).first(),
    )
