"""Indexes that let the dashboard and the scorecards count instead of read rows, at a million customers.

Each leads with the columns a figure is counted by and ends with the timestamp it is ranged on, so a
count is one seek and a walk along the index (villa.analytics.range_counts); the scorecard's ones also
hold every column their query reads, so no customer row is opened.
"""

INDEXES = (
    # The dashboard: registrations per day by channel and visit type; stage and grade by channel.
    ("customer", ("channel_id", "visit_type", "registered_at"), "customer_channel_visit_type_registered"),
    (
        "customer",
        ("channel_id", "stage", "grade", "registered_at"),
        "customer_channel_stage_grade_registered",
    ),
    # New customers and return visits per day; a lost customer's last stage change.
    ("visit", ("is_first", "at"), "visit_is_first_at"),
    ("audit_log", ("customer_id", "action"), "audit_log_customer_action"),
    # The scorecard: registrations with the completeness fields; owned customers in id order (their
    # first follow-up is then looked up in index order); a rep's follow-ups by customer; the reviews
    # of a registration.
    (
        "customer",
        (
            "registered_by_id",
            "registered_at",
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
        ),
        "customer_registered_by_completeness",
    ),
    ("customer", ("owner_id", "id", "registered_at", "stage"), "customer_owner_id_registered_stage"),
    ("follow_up", ("author_id", "customer_id", "created_at", "next_at"), "follow_up_author_customer_created"),
    ("review", ("customer_id", "at", "level", "decision"), "review_customer_at_level_decision"),
)


def up(migrator, db):
    migrator.migrate(
        *(migrator.add_index(table, columns, False, name=name) for table, columns, name in INDEXES)
    )


def down(migrator, db):
    migrator.migrate(*(migrator.drop_index(table, name) for table, _columns, name in INDEXES))
