"""`villa daily`: the nightly upkeep, step by step, each step recorded as a job run (villa.jobs).

A step is a call that returns a StepReport (its line for the cron mail, and what it counted). To
add a step, add it to DAILY_STEPS."""

from villa.backup import CopyFailed, human_size, make_backup, restore_test
from villa.clock import office_today
from villa.db import db
from villa.jobs import RESTORE_TEST, JobProblem, StepReport, daily_run, restore_test_due, run_step
from villa.lookups import prune_counters
from villa.ownership import release_lapsed
from villa.reports import expire_lapsed
from villa.retention import anonymise_lapsed_reports, archive_signed, run_retention


def release_to_pool() -> StepReport:
    released = len(release_lapsed())
    return StepReport(f"released {released} customers to the public pool", {"released": released})


def retention() -> StepReport:
    """Customers past retention anonymised, inactive signed ones archived, and the 报备 of people who
    never became customers anonymised once past retention (villa.retention)."""
    anonymised, archived = len(run_retention(apply=True)), len(archive_signed(apply=True))
    reports = len(anonymise_lapsed_reports(apply=True))
    line = f"retention: {anonymised} anonymised, {archived} archived, {reports} pre-registrations anonymised"
    return StepReport(line, {"anonymised": anonymised, "archived": archived, "reports_anonymised": reports})


def expire_reports() -> StepReport:
    """报备 past their validity become expired (the desk already treats them so)."""
    expired = expire_lapsed()
    return StepReport(f"{expired} pre-registrations expired", {"expired": expired})


def lookup_counters() -> StepReport:
    """The exact-lookup counters past every limit's window (villa.lookups.KEPT) go."""
    pruned = prune_counters()
    return StepReport(f"{pruned} old lookup counters removed", {"pruned": pruned})


def refresh_statistics() -> StepReport:
    # The query planner's statistics: at a million customers, reports and pages pick the right index.
    # SQLite's `PRAGMA optimize` looks only at the tables its connection has queried, so statistics
    # taken while a table was nearly empty stayed (the client page's timeline then read the whole
    # audit log): every table is analysed, and in full. A 2,000-row sample of each index
    # (analysis_limit) told SQLite that a channel holds 2,001 customers, not 166,000, and the customer
    # list then sorted every customer of every channel (3 s at a million, each time); in full it takes
    # about 20 s at a million, once a night.
    with db.connection_context():
        db.execute_sql("ANALYZE")
    return StepReport("statistics refreshed")


def backup() -> StepReport:
    try:
        info = make_backup()
    except CopyFailed as failed:  # the backup is kept; the step still fails, so someone looks
        raise JobProblem(str(failed)) from failed
    copied = f"; copy in {info.copy.parent}" if info.copy else ""
    counts = {"customers": info.header.customers, "bytes": info.size, "copies": 2 if info.copy else 1}
    return StepReport(backup_line(info) + copied, counts)


def backup_line(info) -> str:
    return f"backup written: {info.path} ({human_size(info.size)}, {info.header.customers} customers)"


def digests() -> StepReport:
    """Each rep's morning digest (villa.notify): due today, overdue, protection ending, to fix."""
    from villa.notify.digest import morning_digests

    told, quiet = morning_digests()
    line = f"morning digests: {told} reps told, {quiet} with nothing to tell"
    return StepReport(line, {"told": told, "quiet": quiet})


def send_staff_notifications() -> StepReport:
    """Whatever staff notifications are due go out now (cron runs `villa notify-send` as well)."""
    from villa.notify.outbox import send_due

    sent = send_due()
    return StepReport(sent.line(), {"sent": sent.sent, "retrying": sent.retrying, "failed": sent.failed})


def weekly_restore_test() -> StepReport:
    report = restore_test()
    line = (
        f"restore test of {report.path.name}: {report.tables} tables, {report.rows} rows restored "
        f"exactly ({report.seconds:.1f} s)"
    )
    return StepReport(line, {"tables": report.tables, "rows": report.rows})


# In order: (job name, the call). The backup holds the night's changes; the staff notifications
# come after it, so nothing they do can stop it; the weekly restore test follows when due
# (villa.jobs.restore_test_due).
DAILY_STEPS = (
    ("pool_release", release_to_pool),
    ("retention", retention),
    ("report_expiry", expire_reports),
    ("lookup_counters", lookup_counters),
    ("statistics", refresh_statistics),
    ("backup", backup),
    ("digests", digests),
    ("notify_send", send_staff_notifications),
)


def run_daily(say=lambda line: None) -> list:
    """Run every step (a failed one does not stop the others); `say` gets each done step's line.
    Returns the steps' job-run rows."""

    def step(name, call):
        row = run_step(name, call)
        if row.outcome == "ok":
            say(row.summary)
        return row

    with db.connection_context(), daily_run():
        ran = [step(name, call) for name, call in DAILY_STEPS]
        if restore_test_due(office_today()):
            ran.append(step(RESTORE_TEST, weekly_restore_test))
        else:
            say("restore test: not due today")
    return ran
