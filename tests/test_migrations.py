"""The migrations build exactly the schema the models describe, on either database."""

import importlib.util
from datetime import timedelta

from playhouse.schema_diff import diff_models

from villa.db import MIGRATIONS_DIR, db, is_sqlite
from villa.followups import add_followup
from villa.models import ALL_MODELS, Customer, FollowUp, office_today


def test_migrated_schema_matches_the_models(app):
    with db.connection_context():
        diff = diff_models(db.obj, list(ALL_MODELS))
    assert not diff, f"models and migrations differ; write a migration:\n{diff}"


def migration(name: str):
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def followup_times() -> tuple[dict, dict]:
    done = dict(FollowUp.select(FollowUp.id, FollowUp.next_done_at).tuples())
    first = dict(Customer.select(Customer.id, Customer.first_followup_at).tuples())
    return done, first


def test_0008_fills_in_the_followup_times_add_followup_keeps(make_user, make_customer):
    rep, manager = make_user("rep"), make_user("manager")
    soon = office_today() + timedelta(days=2)
    one, two, untouched = make_customer(owner=rep), make_customer(owner=rep), make_customer(owner=rep)
    asked = add_followup(one, rep, "call", "约看房", next_at=soon)
    add_followup(two, rep, "call", "未接通")
    add_followup(one, rep, "call", "更正：约周日", next_at=soon, corrects=asked)
    add_followup(two, manager, "visit", "到访", next_at=soon)
    add_followup(one, manager, "wechat", "发了资料", next_at=soon)
    kept = followup_times()
    assert sum(1 for at in kept[0].values() if at) == 2 and kept[1][untouched.id] is None

    FollowUp.update(next_done_at=None).execute()
    Customer.update(first_followup_at=None).execute()
    backfill = migration("0008_followup_times")
    with db.connection_context():
        db.execute_sql(backfill.NEXT_DONE)
        db.execute_sql(backfill.FIRST_FOLLOWUP)
    assert followup_times() == kept


def test_0024_leaves_sqlite_statistics_for_its_indexes(make_user, make_customer):
    # Without them SQLite took the new registrant index for a few rows a registrant until the night's
    # `villa daily`: the desk's list of today's visits then read every customer the desk registered.
    if not is_sqlite():
        return  # PostgreSQL keeps statistics per column: a new index needs none
    desk = make_user("reception")
    for _ in range(3):
        make_customer(registered_by=desk)
    indexes = ("customer_registered_by_review", "customer_review_owner")
    with db.connection_context():
        db.execute_sql("ANALYZE")
        db.execute_sql("DELETE FROM sqlite_stat1 WHERE idx IN (?, ?)", indexes)
        migration("0024_review_owner_index")._statistics(db.obj, indexes)
        analysed = {row[0] for row in db.execute_sql("SELECT idx FROM sqlite_stat1")}
    assert set(indexes) <= analysed
