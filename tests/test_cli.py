"""The `villa` command as an operator uses it: real processes, one-line errors, no tracebacks."""

import sqlite3
import subprocess

import pytest

from tests.helpers import assert_one_line_error, villa


@pytest.fixture
def instance(cli_instance):
    return cli_instance


def test_init_is_idempotent_and_creates_a_private_key_file(tmp_path):
    first = villa(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "0001_initial" in first.stdout
    keys = tmp_path / "instance" / "keys.json"
    before = keys.read_bytes()
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    second = villa(tmp_path, "init")
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert keys.read_bytes() == before


def test_missing_key_file_on_a_used_database_is_a_clear_error(instance):
    (instance / "instance" / "keys.json").unlink()
    for command in (["init"], ["user", "create", "x1", "--role", "rep"]):
        line = assert_one_line_error(villa(instance, *command))
        assert "key file" in line and "restore" in line


def test_foreign_key_file_is_refused(instance, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    assert villa(other, "init").returncode == 0
    (instance / "instance" / "keys.json").write_bytes((other / "instance" / "keys.json").read_bytes())
    line = assert_one_line_error(villa(instance, "init"))
    assert "does not belong to this database" in line


def test_user_create_with_password_on_stdin(instance):
    result = villa(
        instance, "user", "create", "lina", "--role", "rep", "--name", "李娜", stdin="a-long-password-1\n"
    )
    assert result.returncode == 0, result.stderr
    assert "a-long-password-1" not in result.stdout
    manager = villa(instance, "user", "create", "wang", "--role", "manager", stdin="a-long-password-2\n")
    assert manager.returncode == 0
    rep = villa(instance, "user", "create", "zhang", "--role", "rep", "--manager", "wang", "--password-stdin",
                stdin="a-long-password-3\n")  # fmt: skip
    assert rep.returncode == 0, rep.stderr


@pytest.mark.parametrize(
    "args,stdin,expected",
    [
        (["user", "create", "lina", "--role", "boss"], "", "boss"),
        (["user", "create", "lina", "--role", "rep", "--password-stdin"], "short\n", "12"),
        (["user", "create", "lina", "--role", "rep", "--password-stdin"], "", "no password"),
        (["user", "create", "lina", "--role", "rep", "--manager", "nobody"], "", "not a manager"),
        (["user", "disable", "nobody"], "", "no user"),
        (["user", "reset-password", "nobody"], "", "no user"),
        (["no-such-command"], "", "no-such-command"),
        (["demo", "--customers", "-4"], "", "-4"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(instance, args, stdin, expected):
    line = assert_one_line_error(villa(instance, *args, stdin=stdin))
    assert expected in line


def test_duplicate_user_is_refused(instance):
    assert villa(instance, "user", "create", "lina", "--role", "rep").returncode == 0
    line = assert_one_line_error(villa(instance, "user", "create", "lina", "--role", "rep"))
    assert "already exists" in line


def test_generated_password_must_be_changed_and_disable_blocks(instance):
    created = villa(instance, "user", "create", "lina", "--role", "rep")
    assert "one-time password" in created.stdout
    assert villa(instance, "user", "disable", "lina").returncode == 0


def test_bad_database_url_is_one_line(instance):
    line = assert_one_line_error(villa(instance, "init", env={"VILLA_DATABASE_URL": "mysql://x/y"}))
    assert "unsupported database URL" in line


def test_rotate_keys_reports_the_new_version(instance):
    result = villa(instance, "rotate-keys")
    assert result.returncode == 0, result.stderr
    assert "key version 2 is current" in result.stdout


def test_demo_loads_once_and_prints_logins(instance):
    result = villa(instance, "demo", "--customers", "30")
    assert result.returncode == 0, result.stderr
    for login in ("reception", "rep", "manager", "auditor", "admin"):
        assert login in result.stdout
    again = villa(instance, "demo", "--if-empty")
    assert again.returncode == 0
    refused = villa(instance, "demo")
    assert "already" in assert_one_line_error(refused)


def _forget_last_migration(instance) -> str:
    """As after an upgrade whose new migration `villa init` has not applied yet."""
    database = sqlite3.connect(instance / "instance" / "villa.db")
    with database:
        (name,) = database.execute("SELECT name FROM schema_migration ORDER BY name DESC LIMIT 1").fetchone()
        database.execute("DELETE FROM schema_migration WHERE name = ?", (name,))
    database.close()
    return name


def test_serve_refuses_a_database_with_migrations_to_apply(instance):
    # Served anyway, every page reading the new column answered 500 until somebody ran `villa init`.
    name = _forget_last_migration(instance)
    try:
        result = villa(instance, "serve", env={"PORT": "1"}, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("villa serve started on a database with a migration to apply")
    line = assert_one_line_error(result)
    assert name in line and "villa init" in line


def test_serve_refuses_a_folder_that_was_never_initialised(tmp_path):
    try:
        result = villa(tmp_path, "serve", env={"PORT": "1"}, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("villa serve started without a database")
    assert "villa init" in assert_one_line_error(result)
