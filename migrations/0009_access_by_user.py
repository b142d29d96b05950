"""One user's access-log rows in time order: villa.alerts counts a user's reveals, lookups and exports
of the office day at every new one, and the log viewer filters by user.
"""

INDEX = ("access_log", ("actor_id", "at"), "access_log_actor_id_at")


def up(migrator, db):
    table, columns, name = INDEX
    migrator.migrate(migrator.add_index(table, columns, False, name=name))


def down(migrator, db):
    table, _columns, name = INDEX
    migrator.migrate(migrator.drop_index(table, name))
