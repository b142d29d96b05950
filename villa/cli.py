"""The `villa` command: the Flask CLI of the app, with the office's own commands."""

import os
import secrets
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup

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


def _check_password(username: str, password: str):
    from villa.auth import password_problem

    problem = password_problem(None, username, password)
    if problem:
        raise CommandError(f"password refused: {problem}")


def _user(username: str) -> User:
    user = User.by_username(username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def _release_to_pool() -> str:
    from villa.ownership import release_lapsed

    return f"released {len(release_lapsed())} customers to the public pool"


# `villa daily`, in order; each step is one call that returns its one line for the cron mail.
# Anonymising past retention and the backup join here as further steps.
DAILY_STEPS = (("release to the public pool", _release_to_pool),)


def register_commands(app):
    @app.cli.command("init")
    def init_command():
        """Create the instance folder, key file and schema; apply migrations. Idempotent."""
        from villa.instance import initialise

        applied = initialise(current_app.config["KEYS_FILE"])
        click.echo(f"instance: {current_app.config['INSTANCE_PATH']}")
        click.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")

    @app.cli.command("demo")
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

    user_group = click.Group("user", help="Create, disable and reset users.")
    app.cli.add_command(user_group)

    @user_group.command("create")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice(ROLES))
    @click.option("--name", default=None, help="Display name (default: the username).")
    @click.option("--manager", default=None, help="Username of the rep's manager.")
    @click.option("--password-stdin", is_flag=True, help="Read the (final) password from stdin.")
    def user_create(username, role, name, manager, password_stdin):
        """Create a user; without --password-stdin a one-time password is printed."""
        from villa.users import UserProblem, create_user

        password = _read_password_stdin() if password_stdin else secrets.token_urlsafe(12)
        if password_stdin:
            _check_password(username, password)
        try:
            user = create_user(username, role, name, manager, password, must_change=not password_stdin)
        except UserProblem as exc:
            raise CommandError(str(exc)) from exc
        click.echo(f"created {user.role} {user.username}")
        if not password_stdin:
            click.echo(f"one-time password (change at first login): {password}")

    @user_group.command("disable")
    @click.argument("username")
    def user_disable(username):
        """Disable a user: they can no longer log in; their history keeps their name."""
        user = _user(username)
        User.update(active=False, session_version=User.session_version + 1).where(
            User.id == user.id
        ).execute()
        click.echo(f"disabled {user.username}")

    @user_group.command("reset-password")
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="Read the (final) password from stdin.")
    def user_reset_password(username, password_stdin):
        """Set a new password; without --password-stdin a one-time password is printed."""
        from villa.auth import set_password

        user = _user(username)
        password = _read_password_stdin() if password_stdin else secrets.token_urlsafe(12)
        if password_stdin:
            _check_password(username, password)
        set_password(user, password, must_change=not password_stdin)
        click.echo(f"password reset for {user.username}")
        if not password_stdin:
            click.echo(f"one-time password (change at first login): {password}")

    @app.cli.command("rotate-keys")
    @click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
    def rotate_keys_command(batch):
        """Add a data-encryption key and re-encrypt every stored value with it (resumable)."""
        from villa.keys import rotate_data_key

        with click.progressbar(length=1, label="re-encrypting") as bar:

            def progress(done, total):
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            version, count = rotate_data_key(batch, progress)
        click.echo(f"key version {version} is current; {count} rows re-encrypted")

    @app.cli.command("daily")
    def daily_command():
        """Nightly upkeep for cron: release lapsed protection to the public pool. One line a step."""
        from peewee import PeeweeException

        for name, step in DAILY_STEPS:
            try:
                line = step()
            except PeeweeException as exc:
                raise CommandError(
                    f"daily: {name} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                ) from exc
            click.echo(line)

    @app.cli.command("serve")
    @click.option("--workers", default=int(os.environ.get("WEB_CONCURRENCY", "2")), show_default=True)
    def serve_command(workers):
        """Serve with gunicorn on HOST:PORT (default 127.0.0.1:5000)."""
        host = os.environ.get("HOST", "127.0.0.1")
        port = os.environ.get("PORT", "5000")
        if not port.isdigit():
            raise CommandError(f"PORT must be a number, not {port!r}")
        args = [
            sys.executable, "-m", "gunicorn",
            "--chdir", str(PROJECT_ROOT),
            "--workers", str(workers),
            "--bind", f"{host}:{port}",
            # The path only (%(U)s), never the query string: searches carry phone numbers.
            "--access-logfile", "-",
            "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "wsgi:app",
        ]  # fmt: skip
        click.echo(f"serving on http://{host}:{port} with {workers} workers")
        sys.stdout.flush()
        os.execv(sys.executable, args)
