"""How people search: 尾号 (the last four digits), alone or with a name, and the list's filters on
budget, unit type and area. A name or 尾号 finds only customers the searcher sees in full; a complete
number stays the counted, logged lookup it was."""

import importlib.util

import pytest

from villa.customers import split_search
from villa.db import MIGRATIONS_DIR, db
from villa.models import AccessLog, Customer


@pytest.fixture
def office(make_user, make_customer):
    manager = make_user("manager")
    rep, colleague = make_user("rep", manager=manager), make_user("rep", manager=manager)
    customers = {
        "wang": make_customer(
            owner=rep, name="王建国", phone="13800138000", budget="1000-1500万", unit_type="独栋"
        ),
        "wang2": make_customer(owner=rep, name="王丽", phone="13911118000", area_band="300-400㎡"),
        "li": make_customer(owner=rep, name="李明", phone="13922228000", budget="2000万+", unit_type="联排"),
        "zhao": make_customer(owner=rep, name="赵强", phone="13733331234", budget="1000-1500万"),
        "theirs": make_customer(owner=colleague, name="王小二", phone="13644448000", budget="1000-1500万"),
    }
    return {"manager": manager, "rep": rep, "colleague": colleague}, customers


def found(session, **args) -> set[str]:
    html = session.htmx_get("/customers/", query_string=args).get_data(as_text=True)
    return {name for name in ("王建国", "王丽", "李明", "赵强", "王小二") if name in html}


@pytest.mark.parametrize(
    "text, name, tail",
    [
        ("王 8000", "王", "8000"),
        ("王8000", "王", "8000"),
        ("8000", "", "8000"),
        ("尾号8000", "", "8000"),
        ("王 ８０００", "王", "8000"),  # full-width digits, as a Chinese keyboard types them
        ("王建国", "王建国", ""),
        ("800", "800", ""),
        ("王 80000", "王 8", "0000"),
    ],
)
def test_the_search_text_splits_into_name_and_tail(text, name, tail):
    assert split_search(text) == (name, tail)


def test_the_last_four_digits_find_the_searchers_customers(office, login):
    users, _ = office
    rep = login(users["rep"])
    assert found(rep, q="8000") == {"王建国", "王丽", "李明"}
    assert found(rep, q="王 8000") == {"王建国", "王丽"}
    assert found(rep, q="王8000") == {"王建国", "王丽"}
    assert found(rep, q="尾号1234") == {"赵强"}
    assert found(rep, q="李 1234") == set()  # name and tail must both match
    assert found(rep, q="9999") == set()
    # The colleague's 王小二 (also …8000) is not the rep's: no search of theirs finds it.
    assert "王小二" not in found(rep, q="8000") | found(rep, q="王 8000")
    assert found(login(users["colleague"]), q="王 8000") == {"王小二"}
    assert found(login(users["manager"]), q="王 8000") == {"王建国", "王丽", "王小二"}
    # No 尾号 or name search is a lookup: it finds only what the searcher sees in full.
    assert not AccessLog.select().exists()


def test_a_complete_phone_is_still_a_logged_lookup(office, login):
    users, _ = office
    colleague = login(users["colleague"])
    html = colleague.htmx_get("/customers/", query_string={"q": "138 0013 8000"}).get_data(as_text=True)
    assert "王**" in html and "王建国" not in html  # the 判客 row, masked
    assert AccessLog.select().where(AccessLog.action == "lookup").count() == 1


def test_filters_on_budget_unit_type_and_area(office, login):
    users, _ = office
    rep = login(users["rep"])
    assert found(rep, budget="1000-1500万") == {"王建国", "赵强"}
    assert found(rep, budget="1000-1500万", unit_type="独栋") == {"王建国"}
    assert found(rep, unit_type="联排") == {"李明"}
    assert found(rep, area_band="300-400㎡") == {"王丽"}
    assert found(rep, q="8000", budget="2000万+") == {"李明"}
    # A value not on the office's list is ignored, as every other filter's.
    assert found(rep, budget="随便") == {"王建国", "王丽", "李明", "赵强"}
    html = rep.get("/customers/", query_string={"budget": "2000万+"}).get_data(as_text=True)
    select = html.split('data-testid="filter-budget"', 1)[1].split("</select>", 1)[0]
    assert '<option value="2000万+" selected>' in select


def test_phone_last4_follows_every_change_of_phone(office, login):
    users, customers = office
    stored = Customer.get_by_id(customers["zhao"].id)
    assert stored.phone_last4 == "1234"
    rep = login(users["rep"])
    saved = rep.post(f"/customers/{stored.id}/fields/phone", {"phone": "137 3333 5678"}, htmx=True)
    assert saved.status_code == 200
    assert Customer.get_by_id(stored.id).phone_last4 == "5678"
    assert found(rep, q="赵 5678") == {"赵强"} and found(rep, q="赵 1234") == set()


def test_registration_fills_phone_last4(make_user, login):
    desk = login(make_user("reception"))
    rep = make_user("rep")
    response = desk.post(
        "/reception/register",
        {
            "name": "孙七",
            "phone": "+86 135-0000-4321",
            "gender": "M",
            "visit_type": "visit",
            "channel": "walk_in",
            "consent": "y",
            "rep": rep.id,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    assert Customer.get(Customer.name == "孙七").phone_last4 == "4321"


def test_migration_0014_fills_phone_last4_from_the_encrypted_phones(office):
    _, customers = office
    Customer.update(phone_last4="").execute()
    spec = importlib.util.spec_from_file_location(
        "m0014", MIGRATIONS_DIR / "0014_phone_last4_owner_scorecard.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Filling:
        """Runs the migration's fill step only: the column and indexes are there already."""

        def migrate(self, *operations):
            pass

        def add_column(self, *args):
            pass

        def add_index(self, *args, **kwargs):
            pass

    with db.connection_context():
        module.up(Filling(), db.obj)
    tails = dict(Customer.select(Customer.name, Customer.phone_last4).tuples())
    assert tails == {"王建国": "8000", "王丽": "8000", "李明": "8000", "赵强": "1234", "王小二": "8000"}
