"""Indexes for analytics and the pool at a million customers: audit actions by time, follow-up due
dates, and the pool's order."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("audit_log", ("action", "at"), False),
        migrator.add_index("follow_up", ("next_at",), False),
        migrator.add_index("customer", ("pool_since",), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("audit_log", "audit_log_action_at"),
        migrator.drop_index("follow_up", "follow_up_next_at"),
        migrator.drop_index("customer", "customer_pool_since"),
    )
