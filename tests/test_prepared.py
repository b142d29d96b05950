"""villa.prepared: SQL built once must give the same rows peewee's own query gives, every call."""

import pytest
from peewee import Model, fn

from villa.customers import customer_by_id, set_id_number, set_phone
from villa.db import db
from villa.models import Channel, Customer, FollowUp, User, now
from villa.prepared import Prepared, slot

PHONE = "13912345678"


@pytest.fixture
def context(app):
    with app.app_context():
        yield
    if not db.is_closed():
        db.close()


def test_a_customer_reads_the_same_as_through_peewee_call_after_call(context, make_user, make_customer):
    rep, desk = make_user("rep", display_name="刘洋"), make_user("reception", display_name="前台小王")
    owned = make_customer(owner=rep, registered_by=desk, phone=PHONE, name="张三丰", budget="500-800万")
    unowned = make_customer(owner=None, registered_by=desk, name="李四")
    for _ in range(2):  # the second round reads with the row layout the first one worked out
        found = customer_by_id(owned.id)
        expected = Customer.get_by_id(owned.id)
        assert found.__data__ == expected.__data__  # every column, converted (dates, decrypted phone)
        assert found.phone == "+86" + PHONE and found.budget == "500-800万"
        assert (found.owner.display_name, found.registered_by.display_name) == ("刘洋", "前台小王")
        assert found.channel.code == "walk_in"
        alone = customer_by_id(unowned.id)
        assert alone.name == "李四" and alone.owner is None and alone.owner_id is None
    assert customer_by_id(owned.id + unowned.id + 1000) is None


def test_arguments_go_to_their_slots_in_order(context, make_user):
    make_user("rep", username="anna", active=True)
    make_user("rep", username="bert", active=False)
    make_user("manager", username="carl", active=True)
    by_role_and_state = Prepared(
        lambda: User.select().where(User.role == slot(), User.active == slot()).order_by(User.username)
    )
    assert [u.username for u in by_role_and_state.rows("rep", True)] == ["anna"]
    assert [u.username for u in by_role_and_state.rows("rep", False)] == ["bert"]
    assert [u.username for u in by_role_and_state.rows("manager", True)] == ["carl"]


def test_a_value_written_into_the_query_is_refused(context):
    fixed = Prepared(lambda: User.select().where(User.role == "rep", User.id == slot()))
    with pytest.raises(TypeError, match="slot"):
        fixed.first(1)


def test_scalar_counts(context, make_user):
    make_user("rep")
    make_user("rep")
    reps = Prepared(lambda: User.select(fn.COUNT(User.id)).where(User.role == slot()))
    assert reps.scalar("rep") == 2
    assert reps.scalar("auditor") == 0


def _stored(model, row_id):
    """Every column of the row as the database holds it (ciphertexts decrypted the same way)."""
    return model.select().where(model.id == row_id).dicts().get()


def test_new_rows_are_stored_exactly_as_peewees_own_insert_stores_them(context, make_user):
    rep = make_user("rep")
    walk_in = Channel.get(Channel.code == "walk_in")

    ours = Customer(name="王五", gender="M", channel=walk_in, owner=rep, registered_by=rep, budget="")
    ours.consent_at, ours.notice_version, ours.notes = now(), "1", "看了双拼"
    set_phone(ours, "13912345678")
    set_id_number(ours, "resident", "11010519491231002X")
    theirs = Customer()  # the same values and the same columns to write
    theirs.__data__, theirs._dirty = dict(ours.__data__), set(ours._dirty)
    theirs.phone_index, theirs.id_index = "x" * 64, "y" * 64  # the unique indexes allow one each
    ours.save()  # BaseModel.save: a new row goes through villa.prepared.insert_new
    Model.save(theirs)  # peewee's own save
    assert ours.id and theirs.id == ours.id + 1
    mine, peewees = _stored(Customer, ours.id), _stored(Customer, theirs.id)
    for row in (mine, peewees):
        row.pop("id"), row.pop("phone_index"), row.pop("id_index")
    assert mine == peewees
    assert mine["phone"] == "+8613912345678" and mine["notes"] == "看了双拼" and mine["owner"] == rep.id
    assert not ours.is_dirty()

    ours.grade = "A"  # an existing row: an UPDATE of what changed, as before
    ours.save()
    assert Customer.select().count() == 2 and Customer.get_by_id(ours.id).grade == "A"

    # Model.create (force_insert) on another table: a default filled in, a NULL kept.
    entry = FollowUp.create(customer=ours, author=rep, kind="call", content="约周六", next_at=None)
    stored = _stored(FollowUp, entry.id)
    assert (stored["content"], stored["next_at"], stored["author"]) == ("约周六", None, rep.id)
    assert stored["created_at"] == entry.created_at
