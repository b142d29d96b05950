"""The `villa` command: the Flask CLI of the app, with the office's own commands."""

import os
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from villa.config import PROJECT_ROOT
from villa.models import ROLES, User


class CommandError(click.ClickException):
    """A bad argument or state: one line on stderr, exit 1."""


def _create_app():
    from villa import create_app

    return create_app()


def main():
    """Entry point: every error is one line on stderr and a non-zero exit, never a traceback."""
    from villa.crypto import KeyFileError
    from villa.db import DatabaseURLError

    group = FlaskGroup(create_app=_create_app, add_version_option=False, load_dotenv=False)
    try:
        code = group.main(prog_name="villa", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("villa: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        click.echo(f"villa: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"villa: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (KeyFileError, DatabaseURLError) as exc:
        click.echo(f"villa: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the operator gets one line
        if os.environ.get("VILLA_TRACEBACK") == "1":
            raise
        click.echo(
            f"villa: failed: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password on standard input")
    return password


def _check_password(username: str, password: str, user: User | None = None):
    from villa.auth import password_problem

    problem = password_problem(user, username, password)
    if problem:
        raise CommandError(f"password refused: {problem}")


def _user(username: str) -> User:
    user = User.by_username(username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


# The commands live on this group, which runs each inside the app's context; create_app adds them
# to the app's own CLI (register_commands), so `villa init` and not `villa villa init`.
commands = AppGroup("villa")


def register_commands(app):
    for command in commands.commands.values():
        app.cli.add_command(command)


@commands.command("init")
def init_command():
    """Create the instance folder, key file and schema; apply migrations. Idempotent."""
    from villa.instance import initialise

    applied = initialise(current_app.config["KEYS_FILE"])
    click.echo(f"instance: {current_app.config['INSTANCE_PATH']}")
    click.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


@commands.command("demo")
@click.option("--customers", default=300, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) unless the database is empty.")
def demo_command(customers, if_empty):
    """Load demo users for every role and realistic customers (only into an empty database)."""
    from villa.demo import DemoRefused, database_state, load_demo

    try:
        logins = load_demo(customers, if_empty=if_empty)
    except DemoRefused as exc:
        raise CommandError(str(exc)) from exc
    if not logins:
        loaded = database_state() == "demo"
        click.echo("demo data already loaded" if loaded else "database holds real data; demo not loaded")
        return
    click.echo("demo logins (username / password / role):")
    for username, password, role in logins:
        click.echo(f"  {username:<12} {password:<20} {role}")


@commands.group("user")
def user_group():
    """Create, disable and reset users."""


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default=None, help="Display name (default: the username).")
@click.option("--manager", default=None, help="Username of the rep's manager.")
@click.option("--password-stdin", is_flag=True, help="Read the (final) password from stdin.")
@click.option("--agency", default=None, help="A broker's agency (created if new).")
def user_create(username, role, name, manager, password_stdin, agency):
    """Create a user; without --password-stdin a one-time password is printed."""
    from villa.users import UserProblem, create_user

    if role == "broker" and not (agency or "").strip():
        raise CommandError("a broker needs --agency AGENCY_NAME")
    if role != "broker" and agency is not None:
        raise CommandError("--agency is only for --role broker")
    password = _read_password_stdin() if password_stdin else secrets.token_urlsafe(12)
    if password_stdin:
        _check_password(username, password)
    try:
        user = create_user(
            username, role, name, manager, password, must_change=not password_stdin, agency=agency
        )
    except UserProblem as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"created {user.role} {user.username}")
    if not password_stdin:
        click.echo(f"one-time password (change at first login): {password}")


@user_group.command("disable")
@click.argument("username")
@click.option(
    "--customers-to",
    default=None,
    metavar="REP|team|pool",
    help="A rep who still owns customers: where they go (a rep's username, the rest of the team, the pool).",
)
def user_disable(username, customers_to):
    """Disable a user: they can no longer log in; their history keeps their name."""
    from villa.handover import HandoverRefused, customer_count, rep_leaves
    from villa.users import set_active

    user = _user(username)
    count = customer_count(user) if user.role == "rep" else 0
    if not count:
        set_active(user, False, None)
        click.echo(f"disabled {user.username}")
        return
    if not customers_to:
        raise CommandError(
            f"{user.username} still owns {count} customers: add --customers-to REP, team or pool"
        )
    destination = customers_to if customers_to in ("team", "pool") else "rep"
    to_rep = _user(customers_to) if destination == "rep" else None
    try:
        moved = rep_leaves(user, None, destination, to_rep)
    except HandoverRefused as refused:
        raise CommandError(str(refused)) from refused
    click.echo(f"disabled {user.username}; {moved.count} customers handed over")


@user_group.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the (final) password from stdin.")
def user_reset_password(username, password_stdin):
    """Set a new password; without --password-stdin a one-time password is printed."""
    from villa.auth import set_password

    user = _user(username)
    password = _read_password_stdin() if password_stdin else secrets.token_urlsafe(12)
    if password_stdin:
        _check_password(username, password, user)
    set_password(user, password, must_change=not password_stdin)
    click.echo(f"password reset for {user.username}")
    if not password_stdin:
        click.echo(f"one-time password (change at first login): {password}")


@commands.command("rotate-keys")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--index-key", is_flag=True, help="Rotate the blind-index key and re-index every customer.")
def rotate_keys_command(batch, index_key):
    """Add a data-encryption key and re-encrypt every stored value with it (resumable).

    With --index-key: add a blind-index key and recompute the phone and ID indexes instead."""
    from villa.keys import RotationBusy, rotate_data_key, rotate_index_key

    rotate, label = (rotate_index_key, "re-indexing") if index_key else (rotate_data_key, "re-encrypting")
    try:
        with click.progressbar(length=1, label=label) as bar:

            def progress(done, total):
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            version, count = rotate(batch, progress)
    except RotationBusy as busy:
        flag = " --index-key" if busy.kind == "index" else ""
        raise CommandError(f"{busy}: run `villa rotate-keys{flag}`") from busy
    what = "blind-index key" if index_key else "key"
    done = "re-indexed" if index_key else "re-encrypted"
    click.echo(f"{what} version {version} is current; {count} rows {done}")


@commands.command("retention")
@click.option("--apply", "apply_changes", is_flag=True, help="Make the changes; without it, a dry run.")
def retention_command(apply_changes):
    """Anonymise inactive unsigned customers past retention and archive inactive signed ones; the
    报备 of people who never became customers lose name and phone once past retention.

    Without --apply nothing changes: it prints how many a real run would change."""
    from villa.daily import retention
    from villa.retention import anonymise_lapsed_reports, archive_signed, retention_years, run_retention

    if apply_changes:
        click.echo(retention().line)  # the nightly step itself
        return
    anonymised, archived, reports = run_retention(), archive_signed(), anonymise_lapsed_reports()
    click.echo(
        f"retention dry run ({retention_years()} years): {len(anonymised)} customers to anonymise, "
        f"{len(archived)} signed customers to archive, {len(reports)} pre-registrations to anonymise; "
        "nothing changed (use --apply)"
    )


@commands.command("backup")
@click.argument("path", required=False, type=click.Path(dir_okay=True, writable=True))
def backup_command(path):
    """Write an encrypted backup to PATH (default: the backup folder, keeping the last N)."""
    from villa.backup import BackupError, make_backup
    from villa.daily import backup_line

    try:
        info = make_backup(path)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    click.echo(backup_line(info))


@commands.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Really replace the current data (stop the server first).")
def restore_command(path, yes):
    """Replace the current data with a backup, after checking the whole file."""
    from villa.backup import BackupError, check_restorable, restore_backup, usable_header

    try:
        header = usable_header(path)
        check_restorable(header)
        if not yes:
            click.echo(
                f"would replace the current data with {path} (made {header.created_at}, "
                f"{header.customers} customers)"
            )
            raise CommandError("add --yes to replace the current data with this backup")
        report = restore_backup(path)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    applied = report.migrations_applied
    migrated = f"; migrations applied: {', '.join(applied)}" if applied else ""
    click.echo(
        f"restored {path} (made {report.header.created_at}, {report.header.customers} customers)"
        f" in {report.seconds:.1f} s{migrated}"
    )


@commands.command("daily")
def daily_command():
    """Nightly upkeep for cron: pool, retention, statistics, backup, the weekly restore test.

    Every step runs and is recorded (the admin home, /healthz/ready and /metrics show them); one
    line a step. When a step failed, one line on stderr names each failed step and the exit is 1."""
    from villa.daily import run_daily

    ran = run_daily(say=click.echo)
    failed = [f"{row.name} ({row.error})" for row in ran if row.outcome != "ok"]
    if failed:
        raise CommandError(f"daily: failed: {'; '.join(failed)}")


@commands.command("digest")
def digest_command():
    """Write today's morning digest for every rep (once a day; `villa daily` does it too)."""
    from villa.daily import digests

    click.echo(digests().line)


@commands.command("notify-send")
def notify_send_command():
    """Send the staff notifications that are due (cron: every minute). Quiet when there were none."""
    from villa.notify.outbox import send_due

    report = send_due()
    if report.anything:
        click.echo(report.line())


@commands.command("serve")
@click.option("--workers", default=int(os.environ.get("WEB_CONCURRENCY", "2")), show_default=True)
def serve_command(workers):
    """Serve with gunicorn on HOST:PORT (default 127.0.0.1:5000)."""
    from villa.metrics import MULTIPROCESS_ENV, prepare_folder

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    if not port.isdigit():
        raise CommandError(f"PORT must be a number, not {port!r}")
    _refuse_an_old_schema()
    # /metrics sums what every worker counted: each writes its counts into this folder.
    folder = prepare_folder(Path(current_app.config["INSTANCE_PATH"]) / "metrics")
    os.environ[MULTIPROCESS_ENV] = str(folder)
    args = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(PROJECT_ROOT),
        "--config", "python:villa.gunicorn_config",  # marks ended workers in the metrics
        "--workers", str(workers),
        "--bind", f"{host}:{port}",
        # No X-Forwarded-* header is believed by gunicorn (it would trust them from 127.0.0.1):
        # the app's ProxyFix alone decides, by VILLA_TRUSTED_PROXIES.
        "--forwarded-allow-ips", "",
        # The path only (%(U)s), never the query string: searches carry phone numbers.
        "--access-logfile", "-",
        "--logger-class", "villa.serving.RedactingLogger",
        "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "wsgi:app",
    ]  # fmt: skip
    click.echo(f"serving on http://{host}:{port} with {workers} workers")
    sys.stdout.flush()
    os.execv(sys.executable, args)


def _refuse_an_old_schema():
    """Served before `villa init` applied a new version's migrations, every page reading a new column
    would answer 500: say so and serve nothing."""
    from villa.db import pending_migrations

    pending = pending_migrations()
    if "0001_initial" in pending:
        raise CommandError("this instance has no database yet: run `villa init`, then `villa serve`")
    if pending:
        count = f"{len(pending)} migrations" if len(pending) > 1 else "a migration"
        raise CommandError(
            f"the database is older than this version of villa ({count} to apply: {', '.join(pending)}): "
            "run `villa init`, then `villa serve`"
        )


# `villa import` and `villa export`: the legacy 客户登记表 in, the customer list out.


@commands.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--apply", "apply_rows", is_flag=True, help="Import the rows that pass (default: dry run).")
@click.option("--as", "actor_name", metavar="USERNAME", help="The admin responsible (for --apply).")
@click.option("--owner", metavar="USERNAME", help="The sales rep for rows whose 置业顾问 is blank.")
@click.option("--with-ids", is_flag=True, help="Import ID numbers: the separate consent is on file.")
@click.option("--report", type=click.Path(dir_okay=False), help="Write the row-by-row report here.")
def import_command(path, apply_rows, actor_name, owner, with_ids, report):
    """Check a legacy 客户登记表 (.xlsx) row by row; with --apply, import the rows that pass."""
    from villa.i18n import force_locale
    from villa.import_file import SERVER_LIMITS, ImportProblem, check_file_size
    from villa.importer import ImportOptions, run_import
    from villa.transfer import report_workbook

    actor = _staff(actor_name, ("admin",)) if actor_name else None
    if apply_rows and actor is None:
        raise CommandError("--apply needs --as USERNAME: the admin responsible for the import")
    default_owner = _staff(owner, ("rep",)) if owner else None
    try:
        check_file_size(os.path.getsize(path), SERVER_LIMITS)  # before reading it into memory
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    except ImportProblem as exc:
        with force_locale("en"):
            raise CommandError(f"{path}: {exc.message}") from exc
    content = _read_file(path)
    bar = _Progress()
    try:
        run, result = run_import(content, os.path.basename(path), actor,
                                 ImportOptions(with_ids=with_ids, default_owner=default_owner),
                                 apply=apply_rows, progress=bar)  # fmt: skip
    except ImportProblem as exc:
        with force_locale("en"):
            raise CommandError(f"{path}: {exc.message}") from exc
    finally:
        bar.close()
    if report:
        _write_private(report, report_workbook(run, result))
    counts = result.counts()
    done = "imported" if apply_rows else "dry run: would import"
    click.echo(
        f"{path}: {done} {counts['imported']}, {counts['duplicate']} duplicates, {counts['invalid']} "
        f"invalid, {result.blank_rows} blank rows skipped (import run {run.id})"
        + ("" if apply_rows else "; add --apply --as USERNAME to import")
    )


@commands.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--as", "actor_name", required=True, metavar="USERNAME", help="Who answers for it.")
@click.option("--full", is_flag=True, help="Full names and phones of the customers that manager may see.")
def export_command(path, actor_name, full):
    """Export every customer to .xlsx, masked unless --full (logged as an export)."""
    import io

    from villa.exporter import export_customers

    if not path.lower().endswith(".xlsx"):
        raise CommandError(f"{path}: the export file name must end in .xlsx")
    actor = _staff(actor_name, ("manager",) if full else ("manager", "admin"))
    out = io.BytesIO()
    export = export_customers(actor, out, allow_full=full, limit=None, ip="cli")
    _write_private(path, out.getvalue())
    shown = "team's customers in full, others masked" if export.full else "masked"
    click.echo(f"exported {export.rows} customers to {path} ({shown}); logged for {actor.username}")


def _staff(username: str, roles: tuple) -> User:
    user = _user(username)
    if not user.active or user.role not in roles:
        raise CommandError(f"{user.username} is not an active {' or '.join(roles)}")
    return user


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as source:
            return source.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


def _write_private(path: str, content: bytes):
    """Write a file only its owner can read: exports and reports are personal data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: tighten it too
        with os.fdopen(fd, "wb") as out:
            out.write(content)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from exc


class _Progress:
    """A progress bar on stderr per phase (checking, importing), fed by the importer."""

    def __init__(self):
        self.bar, self.label = None, None

    def __call__(self, label: str, done: int, total: int):
        if label != self.label:
            self.close()
            self.label = label
            self.bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.length = max(total, done, 1)
        self.bar.update(done - self.bar.pos)

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
