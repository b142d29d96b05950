"""Who sees a customer in full: one rule (villa.customers.can_see_full) with a query face
(visible_in_full) that must agree with it, and the names each page shows by that rule.

SPEC: masking is for customers who are not yours. The owner, the owner's manager, the audit team
(and the desk, for the customers it registered today) see names in full; phones and ID numbers stay
masked until "show".
"""

import re
from datetime import timedelta

import pytest

from villa.customers import can_reveal, can_see_full, customer_by_id, shown_name, visible_in_full
from villa.models import AccessLog, Customer, now, office_day_start

PHONE = "13912345678"


@pytest.fixture
def office(make_user, make_customer):
    """Two teams, a rep without a manager, the desk, the audit team, an admin; one customer of each kind."""
    users = {"manager": make_user("manager"), "other_manager": make_user("manager")}
    users["rep"] = make_user("rep", manager=users["manager"])
    users["colleague"] = make_user("rep", manager=users["manager"])
    users["other_rep"] = make_user("rep", manager=users["other_manager"])
    users["free_rep"] = make_user("rep")  # no manager: every manager leads them
    for role in ("auditor", "reception", "admin"):
        users[role] = make_user(role)
    yesterday = office_day_start() - timedelta(hours=1)

    def customer(owner, by=None, at=yesterday, **fields):
        by = by or owner or users["other_rep"]
        return make_customer(owner=owner, registered_by=by, registered_at=at, **fields)

    customers = {
        "own": customer(users["rep"]),
        "colleague": customer(users["colleague"]),
        "other_team": customer(users["other_rep"]),
        "free_rep": customer(users["free_rep"]),
        "pool": customer(None, in_public_pool=True, pool_since=yesterday),
        "unowned": customer(None),
        "anonymised": customer(users["rep"], anonymised_at=now()),
        "desk_today": customer(users["other_rep"], by=users["reception"], at=now()),
        "desk_yesterday": customer(users["other_rep"], by=users["reception"]),
        "rep_today": customer(users["other_rep"], at=now()),
    }
    return users, customers


ALL = {
    "own",
    "colleague",
    "other_team",
    "free_rep",
    "pool",
    "unowned",
    "desk_today",
    "desk_yesterday",
    "rep_today",
}
SEES_IN_FULL = {
    "rep": {"own", "pool"},
    "free_rep": {"free_rep", "pool"},
    "manager": {"own", "colleague", "free_rep", "pool", "unowned"},
    "other_manager": {
        "other_team",
        "free_rep",
        "pool",
        "unowned",
        "desk_today",
        "desk_yesterday",
        "rep_today",
    },
    "auditor": ALL,
    "reception": {"desk_today"},
    "admin": set(),
}
REVEALS = {
    "rep": {"own"},
    "free_rep": {"free_rep"},
    "manager": SEES_IN_FULL["manager"],
    "other_manager": SEES_IN_FULL["other_manager"],
    "auditor": ALL,
    "reception": set(),
    "admin": set(),
}


@pytest.mark.parametrize("viewer", sorted(SEES_IN_FULL))
def test_the_rule_and_its_query_agree(office, viewer):
    users, customers = office
    user = users[viewer]
    by_query = {c.id for c in Customer.select(Customer.id).where(visible_in_full(user))}
    for kind, customer in customers.items():
        loaded = customer_by_id(customer.id)  # as pages load it: owner and desk joined
        expected = kind in SEES_IN_FULL[viewer]
        assert can_see_full(user, loaded) == expected, f"{viewer} / {kind}: predicate"
        assert (customer.id in by_query) == expected, f"{viewer} / {kind}: query"
        assert can_reveal(user, loaded) == (kind in REVEALS[viewer]), f"{viewer} / {kind}: reveal"
        assert shown_name(user, loaded) == (loaded.name if expected else "王**")


# Names on each page


@pytest.fixture
def qian(office, make_customer):
    """钱丽华, the rep's customer (registered by the rep yesterday), with a phone and an ID number."""
    users, _ = office
    customer = make_customer(
        owner=users["rep"],
        registered_by=users["rep"],
        registered_at=office_day_start() - timedelta(hours=1),
        name="钱丽华",
        phone=PHONE,
        id_number="11010519491231002X",
    )
    return users, customer


FULL = ("rep", "manager", "auditor")
MASKED = ("colleague", "other_rep", "other_manager", "admin")


def _name_shown(html: str, customer_id: int) -> str:
    """The name in the list row linking to this customer."""
    found = re.search(rf'<a [^>]*href="/customers/{customer_id}"[^>]*>([^<]*)</a>', html)
    return found.group(1) if found else ""


def _assert_numbers_masked(html: str):
    assert PHONE not in html and "139 1234 5678" not in html and "11010519491231002X" not in html


@pytest.mark.parametrize("viewer", FULL + MASKED)
def test_the_list_holds_what_the_viewer_sees_in_full(qian, login, viewer):
    """A colleague's or another team's customer is not on the list at all (its grade and stage are
    the owner's work); the admin, who sees no one in full, lists everyone masked."""
    users, customer = qian
    html = login(users[viewer]).get("/customers/").get_data(as_text=True)
    expected = {"admin": "钱**"}.get(viewer, "钱丽华" if viewer in FULL else "")
    assert _name_shown(html, customer.id) == expected
    assert ("139****5678" in html) == bool(expected)
    _assert_numbers_masked(html)


@pytest.mark.parametrize("viewer", FULL + MASKED)
def test_search_by_phone_shows_the_name_by_the_rule(qian, login, viewer):
    users, customer = qian
    response = login(users[viewer]).htmx_get("/customers/", query_string={"q": "139 1234 5678"})
    html = response.get_data(as_text=True)
    assert _name_shown(html, customer.id) == ("钱丽华" if viewer in FULL else "钱**")
    assert "钱丽华" not in html if viewer in MASKED else True
    _assert_numbers_masked(html)


@pytest.mark.parametrize("viewer", FULL + MASKED)
def test_name_search_finds_only_customers_seen_in_full(qian, login, viewer):
    users, customer = qian
    for text in ("钱", "丽", "华", "钱丽华"):
        html = login(users[viewer]).htmx_get("/customers/", query_string={"q": text}).get_data(as_text=True)
        assert (f"/customers/{customer.id}" in html) == (viewer in FULL), f"{viewer} searching {text}"


def test_name_search_says_it_covers_your_customers(office, login):
    users, _ = office
    html = login(users["rep"]).get("/customers/").get_data(as_text=True)
    assert 'data-testid="search-hint"' in html and "只能找到您的客户" in html


@pytest.mark.parametrize("viewer", FULL + MASKED + ("reception",))
def test_the_client_page_heading(qian, login, viewer):
    users, customer = qian
    session = login(users[viewer])
    html = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    heading = re.search(r'data-testid="customer-name">([^<]*)<', html).group(1)
    assert heading == ("钱丽华" if viewer in FULL else "钱**")
    assert ("<title>钱丽华" in html) == (viewer in FULL)
    _assert_numbers_masked(html)
    if viewer in ("rep", "manager"):  # who may write gets the header again with every save
        saved = session.post(
            f"/customers/{customer.id}/followups", {"kind": "call", "content": "回访"}, htmx=True
        )
        header = saved.get_data(as_text=True).split('id="client-header"', 1)[1].split("</hgroup>", 1)[0]
        assert "钱丽华" in header


def test_the_rep_home_shows_own_customers_in_full(qian, login):
    users, customer = qian
    Customer.update(next_followup_on=now().date()).where(Customer.id == customer.id).execute()
    html = login(users["rep"]).get("/").get_data(as_text=True)
    assert _name_shown(html, customer.id) == "钱丽华"  # the latest customers and the day's lists
    assert "钱**" not in html
    _assert_numbers_masked(html)


@pytest.mark.parametrize("viewer", ("manager", "other_manager"))
def test_the_manager_home_shows_the_teams_customers_in_full(qian, login, viewer):
    users, customer = qian
    html = login(users[viewer]).get("/").get_data(as_text=True)
    assert _name_shown(html, customer.id) == ("钱丽华" if viewer == "manager" else "")  # not another team's
    _assert_numbers_masked(html)


def _registration(users) -> dict:
    return {
        "name": "钱丽华",
        "phone": PHONE,
        "gender": "F",
        "visit_type": "visit",
        "channel": "walk_in",
        "consent": "y",
        "budget": "1000-1500万",
        "rep": users["rep"].id,
    }


def test_the_desk_sees_in_full_whom_it_registered_today(office, login):
    users, _ = office
    desk = login(users["reception"])
    registered = desk.post("/reception/register", _registration(users))
    assert registered.status_code == 303, registered.get_data(as_text=True)[:2000]
    page = desk.get(registered.headers["Location"]).get_data(as_text=True)
    heading = re.search(r'data-testid="customer-name">([^<]*)<', page).group(1)
    assert heading == "钱丽华"  # no more "钱丽华已登记" above "钱**"
    home = desk.get("/", follow_redirects=True).get_data(as_text=True)  # the desk
    assert "钱丽华" in home and "钱**" not in home
    warning = desk.htmx_get("/reception/check", query_string={"phone": PHONE}).get_data(as_text=True)
    assert 'data-testid="dup-warning"' in warning and "钱丽华" in warning
    again = desk.post("/reception/register", _registration(users))
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert 'data-testid="dup-conflict"' in html and "钱丽华" in html
    _assert_numbers_masked(html + warning + page)
    # Nothing the desk may see in full is a logged lookup.
    assert not AccessLog.select().where(AccessLog.action == "lookup").exists()


@pytest.mark.parametrize("viewer", ("reception", "rep", "colleague", "other_rep", "manager", "other_manager"))
def test_the_duplicate_warning_and_conflict_show_the_name_by_the_rule(qian, login, viewer):
    users, customer = qian  # registered yesterday by the rep: the desk sees it masked
    session = login(users[viewer])
    full = viewer in ("rep", "manager")
    warning = session.htmx_get("/reception/check", query_string={"phone": PHONE}).get_data(as_text=True)
    assert 'data-testid="dup-warning"' in warning
    assert ("钱丽华" in warning) == full and ("钱**" in warning) != full
    for htmx in (False, True):
        conflict = session.post("/reception/register", _registration(users), htmx=htmx)
        assert conflict.status_code == 409
        html = conflict.get_data(as_text=True)
        assert ("钱丽华" in html) == full and ("钱**" in html) != full
        _assert_numbers_masked(html)
