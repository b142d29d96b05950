"""The indexes the dashboard and the scorecards counted along before the daily summary tables (0021).

Since 0021 every figure is summed from the summary tables, which triggers keep: these seven indexes
answer no query any more (an EXPLAIN of every statement a crawl of each role's pages runs on SQLite,
and PostgreSQL's index statistics after that crawl and an office-day load test: no scan, or one
that another index serves), yet each customer registered, edited or moved writes to them, two of
them fourteen columns wide (21 MB and 18 MB of 100,000 customers on PostgreSQL; about 2 GB each at
ten million). A customer's reviews and the day's return visits keep their own indexes (review's
customer_id, visit's (is_first, at)).
"""

from peewee import SqliteDatabase

COMPLETENESS = (
    "name",
    "phone_index",
    "channel_id",
    "gender",
    "age_band",
    "unit_type",
    "area_band",
    "budget",
    "purpose",
    "hukou_local",
    "social_insurance_months",
    "homes_owned",
)
DROPPED = (
    ("customer", ("channel_id", "visit_type", "registered_at"), "customer_channel_visit_type_registered"),
    (
        "customer",
        ("channel_id", "stage", "grade", "registered_at"),
        "customer_channel_stage_grade_registered",
    ),
    (
        "customer",
        ("owner_id", "registered_at", "stage", "first_followup_at"),
        "customer_owner_registered_stage_first_followup",
    ),
    ("customer", ("owner_id", "registered_at", *COMPLETENESS), "customer_owner_registered_checklist"),
    ("customer", ("registered_by_id", "registered_at", *COMPLETENESS), "customer_registered_by_completeness"),
    (
        "follow_up",
        ("author_id", "next_at", "created_at", "next_done_at"),
        "follow_up_author_next_at_created_done",
    ),
    ("review", ("customer_id", "at", "level", "decision"), "review_customer_at_level_decision"),
)


def up(migrator, db):
    migrator.migrate(*(migrator.drop_index(table, name) for table, _columns, name in DROPPED))


def down(migrator, db):
    migrator.migrate(
        *(migrator.add_index(table, columns, False, name=name) for table, columns, name in DROPPED)
    )
    if isinstance(db, SqliteDatabase):
        for _table, _columns, name in DROPPED:
            db.execute_sql(f"ANALYZE {name}")
