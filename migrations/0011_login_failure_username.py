"""Failed logins remember the username typed, so lockout counts per account and address.

login_failure.username: the username as typed (lower-case), known or not; '' for the rows written
before, which then count for their address only and age out within a day.
"""

from peewee import CharField

INDEX = ("login_failure", ("username", "at"), "login_failure_username_at")


def up(migrator, db):
    table, columns, name = INDEX
    migrator.migrate(
        migrator.add_column("login_failure", "username", CharField(max_length=40, default="")),
        migrator.add_index(table, columns, False, name=name),
    )


def down(migrator, db):
    table, _columns, name = INDEX
    migrator.migrate(migrator.drop_index(table, name), migrator.drop_column("login_failure", "username"))
