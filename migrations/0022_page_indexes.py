"""Indexes that let the pages staff open all day read a page's rows, not a rep's or a queue's all.

- The review queue, oldest first, a page at a time: led by the status and the registration time (and
  the id, the queue's tie-break), so the page is a walk along the index, and holding what the queue's
  conditions read, so its count opens no customer row. It replaces the index on review_status alone.
- A rep's home and the protected-customers cap (each registration checks it): the rep's live
  customers by follow-up date, by protection end (then id, the list's tie-break), and in id order
  (the newest), so each count or list reads the rows it shows or counts, in the order it shows them,
  not every customer the rep owns.
- The desk's rotation, which every desk tablet polls: each rep's walk-ins today.
- The review queue's near-duplicate check: a name's registrations within 30 days, by (name,
  registered_at); it replaces the index on the name alone.
"""

ADDED = (
    (
        "customer",
        ("review_status", "registered_at", "id", "anonymised_at", "registered_by_id", "owner_id"),
        "customer_review_queue",
    ),
    ("customer", ("owner_id", "anonymised_at", "next_followup_on"), "customer_owner_next_followup"),
    (
        "customer",
        ("owner_id", "protected_until", "id", "anonymised_at", "stage", "in_public_pool"),
        "customer_owner_protected_until",
    ),
    ("customer", ("owner_id", "anonymised_at"), "customer_owner_live"),
    ("customer", ("name", "registered_at"), "customer_name_registered"),
    ("visit", ("rep_id", "kind", "at"), "visit_rep_kind_at"),
)
REPLACED = (
    ("customer", ("review_status",), "customer_review_status"),
    ("customer", ("name",), "customer_name"),
)


def up(migrator, db):
    migrator.migrate(
        *(migrator.add_index(table, columns, False, name=name) for table, columns, name in ADDED),
        *(migrator.drop_index(table, name) for table, _columns, name in REPLACED),
    )


def down(migrator, db):
    migrator.migrate(
        *(migrator.add_index(table, columns, False, name=name) for table, columns, name in REPLACED),
        *(migrator.drop_index(table, name) for table, _columns, name in ADDED),
    )
