"""Name search from the gram index: the same customers as a literal INSTR over every name, and the
index follows every change of a name (edit, merge, anonymising, deletion) by itself."""

import random

import pytest
from peewee import fn

from villa.customers import search_customers
from villa.db import db, is_sqlite
from villa.demo import _name
from villa.duplicates import merge
from villa.models import Customer, NameGram
from villa.name_index import name_contains
from villa.retention import anonymise


def found_by_index(text: str) -> set[int]:
    return {c.id for c in Customer.select(Customer.id).where(name_contains(text))}


def found_by_scan(text: str) -> set[int]:
    contains = fn.INSTR(Customer.name, text) if is_sqlite() else fn.STRPOS(Customer.name, text)
    return {c.id for c in Customer.select(Customer.id).where(contains > 0)}


def grams_stored(customer) -> set[str]:
    return {g.gram for g in NameGram.select().where(NameGram.customer_id == customer.id)}


def expected_grams(name: str) -> set[str]:
    return set(name) | {name[i : i + 2] for i in range(len(name) - 1)}


@pytest.fixture
def auditor(make_user):
    return make_user("auditor")


def names_found(user, text: str) -> list[str]:
    return [c.name for c in search_customers(user, text)[0]]


def test_hits_and_misses_newest_first(auditor, make_customer):
    for name in ("王小明", "李小红", "王明", "小明王小"):
        make_customer(name=name)
    assert names_found(auditor, "小明") == ["小明王小", "王小明"]
    assert names_found(auditor, "王小明") == ["王小明"]  # 小明王小 has both pairs, not the text
    assert names_found(auditor, "张") == []
    assert names_found(auditor, "明王") == ["小明王小"]
    assert names_found(auditor, "红李") == []
    assert names_found(auditor, "王小明红") == []


def test_one_character_finds_every_name_holding_it(auditor, make_customer):
    for name in ("王小明", "李小红", "王明", "陈"):
        make_customer(name=name)
    assert names_found(auditor, "王") == ["王明", "王小明"]
    assert names_found(auditor, "小") == ["李小红", "王小明"]
    assert names_found(auditor, "陈") == ["陈"]
    assert names_found(auditor, "赵") == []


def test_latin_letters_match_as_typed(auditor, make_customer):
    for name in ("Anna李", "anna", "David Chen", "王Amy"):
        make_customer(name=name)
    assert names_found(auditor, "Anna") == ["Anna李"]  # case-sensitive, as the plain match was
    assert names_found(auditor, "nna") == ["anna", "Anna李"]
    assert names_found(auditor, "d Ch") == ["David Chen"]
    assert names_found(auditor, "a") == ["David Chen", "anna", "Anna李"]
    assert names_found(auditor, "A") == ["王Amy", "Anna李"]
    assert names_found(auditor, "王A") == ["王Amy"]
    assert names_found(auditor, "ANNA") == []


def test_percent_and_underscore_match_themselves(auditor, make_customer):
    for name in ("王_明", "王%明", "王小明"):
        make_customer(name=name)
    assert names_found(auditor, "_") == ["王_明"]
    assert names_found(auditor, "%明") == ["王%明"]
    assert names_found(auditor, "王_") == ["王_明"]
    assert names_found(auditor, "%") == ["王%明"]


def test_masked_names_stay_unfindable_by_name(make_user, make_customer, login):
    rep, other = make_user("rep"), make_user("rep")
    make_customer(name="王小明", owner=rep)
    make_customer(name="王小红", owner=other)
    page = login(rep).get("/customers/?q=王小").get_data(as_text=True)
    assert "王小明" in page and "王小红" not in page and "王**" not in page


def test_the_index_holds_each_character_and_pair(make_customer):
    customer = make_customer(name="王小小")
    assert grams_stored(customer) == {"王", "小", "王小", "小小"}


def test_an_edited_name_is_found_by_its_new_text_only(auditor, make_customer):
    customer = make_customer(name="王小明")
    customer.name = "李大红"
    customer.save()
    assert names_found(auditor, "小明") == [] and names_found(auditor, "王") == []
    assert names_found(auditor, "大红") == ["李大红"]
    assert grams_stored(customer) == expected_grams("李大红")
    customer.gender = "M"
    customer.save()  # a save that leaves the name alone leaves its grams alone
    assert grams_stored(customer) == expected_grams("李大红")


def test_a_merged_record_is_not_found_by_its_old_name(auditor, make_user, make_customer):
    kept, gone = make_customer(name="王小明"), make_customer(name="王晓明")
    merge(kept, gone, {}, make_user("admin"))
    assert names_found(auditor, "晓明") == []
    assert names_found(auditor, "王") == ["王小明"]
    assert grams_stored(gone) == expected_grams(Customer.get_by_id(gone.id).name)


def test_an_anonymised_customer_leaves_no_grams_of_the_name(auditor, make_customer):
    customer = make_customer(name="欧阳娜娜")
    anonymise(customer, None, "test")
    assert names_found(auditor, "娜娜") == []
    assert found_by_index("欧阳") == set()
    assert not grams_stored(customer) & expected_grams("欧阳娜娜")


def test_a_deleted_customer_leaves_no_grams(make_customer):
    customer = make_customer(name="王小明")
    other = make_customer(name="王小红")
    Customer.delete().where(Customer.id == customer.id).execute()
    assert NameGram.select().where(NameGram.customer_id == customer.id).count() == 0
    assert found_by_index("王小") == {other.id}


@pytest.fixture(params=["rarest gram first", "newest customers first"])
def way(request, monkeypatch):
    """Both ways the index is read: from the rarest gram's customers, and (when every gram is
    common) newest customers first, each looked up in the index."""
    if request.param == "newest customers first":
        monkeypatch.setattr("villa.name_index.MIN_COUNT_CAP", 1)
        monkeypatch.setattr("villa.name_index.COUNT_CAP_PER_ROOT", 0)
    return request.param


def test_both_ways_find_the_same_page(way, auditor, make_customer):
    for name in ("王小明", "李小红", "王明", "小明王小", "Anna李"):
        make_customer(name=name)
    assert names_found(auditor, "小明") == ["小明王小", "王小明"]
    assert names_found(auditor, "王小明") == ["王小明"]
    assert names_found(auditor, "王") == ["小明王小", "王明", "王小明"]
    assert names_found(auditor, "nna") == ["Anna李"]
    assert names_found(auditor, "张") == []


def test_the_index_finds_what_instr_finds_on_random_names(way, app):
    rng = random.Random(16)
    names = [_name(rng, rng.choice("MF")) for _ in range(300)]
    names += ["Anna李", "王Amy", "David Chen", "王_明", "王%明", "李 明", "a", "王王王"]
    with db.atomic():
        from tests.conftest import create_customer, create_user

        desk = create_user("reception")
        for name in names:
            create_customer(name=name, registered_by=desk)
    queries = set()
    for name in rng.sample(names, 120):
        start = rng.randrange(len(name))
        queries.add(name[start : start + rng.choice((1, 2, 3))])
    queries |= {rng.choice(names)[0] + rng.choice(names)[-1] for _ in range(60)}  # mostly misses
    queries |= {"张", "王小明", "%", "_", "Amy", "amy", "王王", " ", "李 "}
    assert len(queries) > 150
    for text in sorted(queries):
        assert found_by_index(text) == found_by_scan(text), text


def test_a_restore_brings_back_the_grams_once_and_the_index_keeps_working(app, tmp_path):
    from tests.conftest import create_customer
    from villa.backup import make_backup, restore_backup

    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    with app.app_context():
        kept = create_customer(name="王小明")
        backup = make_backup().path
        kept.name = "李大红"
        kept.save()
        restore_backup(backup)
        with db.connection_context():
            assert grams_stored(kept) == expected_grams("王小明")
            assert NameGram.select().count() == len(expected_grams("王小明"))
            later = create_customer(name="赵六")  # the triggers came back with the restore
            later.name = "赵七"
            later.save()
            assert found_by_index("赵七") == {later.id} and found_by_index("六") == set()
            assert found_by_index("小明") == {kept.id}
        if not db.is_closed():
            db.close()


def test_0019_fills_the_index_for_the_names_already_stored(make_customer):
    from tests.test_migrations import migration

    for name in ("王小明", "Anna李", "王王", "陈"):
        make_customer(name=name)
    kept = sorted(NameGram.select(NameGram.gram, NameGram.customer_id).tuples())
    NameGram.delete().execute()
    fill = migration("0019_name_grams")
    with db.connection_context():
        db.execute_sql(fill.SQLITE_FILL if is_sqlite() else fill.POSTGRES_FILL)
    assert sorted(NameGram.select(NameGram.gram, NameGram.customer_id).tuples()) == kept
    assert len(kept) == 5 + 8 + 2 + 1  # 王小明, Anna李 (n twice), 王王, 陈
