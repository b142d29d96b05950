"""A manager's review queue read along indexes: by owner, and by who registered it.

A manager reviews the unowned, the team's and managerless reps' customers, and those the owner's
own manager registered (villa.review.queue_query). Read along the queue's date index, that choice,
a condition over the owner's row, was checked for every registration waiting in the whole group
until a page or the count's 1,001 were found: 17 ms at 1M customers on PostgreSQL for a manager
whose team has a hundred.

- (owner_id, review_status, …): the unowned and each rep's waiting registrations are a range each;
  the rows' date, id, registrant and anonymisation are in the index too, so neither the count nor
  the page's ids open a customer row. Led by the owner, not the status: led by the status, SQLite
  took it for the audit team's queue as well and sorted its 48,000 waiting (8 ms) instead of
  walking the date index (customer_review_queue) to the page's 25.
- (registered_by_id, review_status, owner_id): those each manager registered, a range per manager.
  It replaces the index on registered_by_id alone, whose lookups it serves.
"""

from peewee import SqliteDatabase

ADDED = (
    (
        ("owner_id", "review_status", "registered_by_id", "registered_at", "id", "anonymised_at"),
        "customer_review_owner",
    ),
    (("registered_by_id", "review_status", "owner_id"), "customer_registered_by_review"),
)
REPLACED = ((("registered_by_id",), "customer_registered_by_id"),)


def up(migrator, db):
    migrator.migrate(
        *(migrator.add_index("customer", columns, False, name=name) for columns, name in ADDED),
        *(migrator.drop_index("customer", name) for _columns, name in REPLACED),
    )
    _statistics(db, [name for _columns, name in ADDED])


def _statistics(db, names):
    """SQLite plans with the statistics ANALYZE last took, and a new index has none until `villa
    daily` runs: SQLite then takes the registrant index for a few rows a registrant, and the desk's
    list of today's visits read every customer the desk ever registered (1.3 s at a million). The
    indexes made are analysed now (a few seconds at a million). PostgreSQL keeps statistics per column:
    a new index needs none."""
    if isinstance(db, SqliteDatabase):
        for name in names:
            db.execute_sql(f"ANALYZE {name}")


def down(migrator, db):
    migrator.migrate(
        *(migrator.add_index("customer", columns, False, name=name) for columns, name in REPLACED),
        *(migrator.drop_index("customer", name) for _columns, name in ADDED),
    )
    _statistics(db, [name for _columns, name in REPLACED])
