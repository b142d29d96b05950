"""The exact-lookup limits (villa.lookups) count a user's counter rows of the last day in one
statement on every complete number typed at the desk: an index on (key, at) reads just those rows.
It replaces the index on the key alone, which it covers."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("rate_event", ("key", "at"), False, name="rateevent_key_at"),
        migrator.drop_index("rate_event", "rateevent_key"),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.add_index("rate_event", ("key",), False, name="rateevent_key"),
        migrator.drop_index("rate_event", "rateevent_key_at"),
    )
