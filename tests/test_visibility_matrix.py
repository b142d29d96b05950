"""Every customer-bearing route × every viewer: what a viewer who may not see the customer in full
gets never holds the customer's full name, follow-ups, notes, needs or history.

The routes come from the url_map (every rule with <int:customer_id>), so a new one is swept without
being listed here; the list, its searches (name, 尾号, full phone, owner filter), the export, the home
pages, the review queue, disputes, pool and the desk's check are swept beside them.

One rule decides (villa.customers.can_see_full): the owner, the owner's manager and the audit team
see this customer in full; a colleague on the same team, a rep of another team, another team's
manager, the desk (on a day after registration) and the admin get the 判客 card at most.
"""

import re
from datetime import timedelta
from io import BytesIO
from itertools import product

import pytest
from openpyxl import load_workbook

from villa.deals import record_deal
from villa.followups import add_followup
from villa.identity import format_phone
from villa.models import Customer, Deal, office_day_start
from villa.registration import log_return_visit

NAME = "钱丽华"
PHONE = "13912345678"
SECRETS = {
    "name": NAME,
    "follow-up": "跟进内容机密甲",
    "note": "备注机密乙",
    "needs": "竞品机密丙",
    "visit note": "到访备注机密丁",
}
FULL = {"owner", "manager", "auditor"}
VIEWERS = ("owner", "colleague", "other_rep", "manager", "other_manager", "auditor", "reception", "admin")
# One form that every POST route reads what it needs from.
FORM = {
    "kind": "call",
    "content": "回访",
    "reason": "我先接待",
    "note": "备注",
    "stage": "visited",
    "budget": "2000万+",
    "notes": "改了",
    "level": "1",
    "confirm": "y",
}
FIELD_NAMES = {"field_name": "notes"}
DEAL = {
    "unit_number": "A-12",
    "area": "286.5",
    "price": "1280万",
    "deal_date": "2026-01-05",
    "payment": "mortgage",
}
# Beside the customer routes: pages and searches that list customers.
LISTS = (
    "/",
    "/customers/",
    "/customers/?q=钱",
    "/customers/?q=5678",
    "/customers/?q=钱 5678",
    f"/customers/?q={PHONE}",
    "/customers/?owner={owner_id}",
    "/customers/?owner=me",
    "/customers/export.xlsx",
    f"/customers/export.xlsx?q={PHONE}",
    "/review/",
    "/disputes/",
    "/pool/",
    f"/reception/check?phone={PHONE}",
    "/reception/",
)


@pytest.fixture
def office(make_user):
    users = {"manager": make_user("manager"), "other_manager": make_user("manager")}
    users["owner"] = make_user("rep", manager=users["manager"])
    users["colleague"] = make_user("rep", manager=users["manager"])
    users["other_rep"] = make_user("rep", manager=users["other_manager"])
    for role in ("auditor", "reception", "admin"):
        users[role] = make_user(role)
    return users


def secret_customer(users, make_customer, phone=PHONE):
    """The owner's customer, registered yesterday by the owner, with a story in every part of the page."""
    customer = make_customer(
        owner=users["owner"],
        registered_by=users["owner"],
        registered_at=office_day_start() - timedelta(hours=2),
        name=NAME,
        phone=phone,
        notes=SECRETS["note"],
        competing_projects=SECRETS["needs"],
        protected_until=office_day_start() + timedelta(days=10),
    )
    followup = add_followup(customer, users["owner"], "call", SECRETS["follow-up"])
    log_return_visit(Customer.get_by_id(customer.id), users["reception"], "visit", SECRETS["visit note"])
    # A 认购 waiting for the manager: the deal routes are swept with it.
    record_deal(Customer.get_by_id(customer.id), users["owner"], "subscribed", DEAL)
    return Customer.get_by_id(customer.id), followup


def customer_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "<int:customer_id>" in rule.rule),
        key=lambda rule: rule.rule,
    )


def urls_for_rule(rule, customer_id, followup_id) -> list[str]:
    """The rule filled in; one URL for each choice of an any() argument (each section of the page)."""
    choice = re.search(r"<any\(([^)]*)\):\w+>", rule.rule)
    if not choice:
        return [url_for_rule(rule.rule, customer_id, followup_id)]
    options = [option.strip().strip("'\"") for option in choice.group(1).split(",")]
    return [
        url_for_rule(rule.rule.replace(choice.group(0), option), customer_id, followup_id)
        for option in options
    ]


def url_for_rule(rule: str, customer_id, followup_id) -> str:
    url = rule.replace("<int:customer_id>", str(customer_id))
    url = url.replace("<int:followup_id>", str(followup_id))
    deal = Deal.select(Deal.id).where(Deal.customer == customer_id).first()
    url = url.replace("<int:deal_id>", str(deal.id if deal else 1))
    for name, value in FIELD_NAMES.items():
        url = url.replace(f"<{name}>", value)
    assert "<" not in url, f"the sweep does not know how to fill {rule}"
    return url


def text_of(response) -> str:
    if response.mimetype and "spreadsheet" in response.mimetype:
        book = load_workbook(BytesIO(response.get_data()), read_only=True)
        return "\n".join(
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
        )
    return response.get_data(as_text=True)


def leaks(text: str, phone: str = PHONE) -> list[str]:
    found = [what for what, secret in SECRETS.items() if secret in text]
    return found + (["phone"] if phone in text or format_phone(phone) in text else [])


def test_the_sweep_covers_every_customer_route(app):
    rules = customer_rules(app)
    assert len(rules) >= 20, [rule.rule for rule in rules]
    for rule in rules:
        urls_for_rule(rule, 1, 1)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_route_shows_more_than_the_card_to_who_may_not_see_in_full(
    app, office, make_customer, login, viewer
):
    users = office
    session = login(users[viewer])
    found = []
    for number, rule in enumerate(customer_rules(app)):
        phone = f"1391234{number:04d}"
        customer, followup = secret_customer(users, make_customer, phone)
        for url, method in product(
            urls_for_rule(rule, customer.id, followup.id), sorted(rule.methods - {"HEAD", "OPTIONS"})
        ):
            for htmx in (False, True):
                if method == "GET":
                    response = session.htmx_get(url) if htmx else session.get(url)
                else:
                    response = session.post(url, FORM, htmx=htmx)
                assert response.status_code < 500, f"{viewer} {method} {url}: {response.status_code}"
                leaked = leaks(text_of(response), phone)
                if viewer in FULL:
                    leaked = [what for what in leaked if what == "phone" and "reveal" not in url]
                if leaked:
                    found.append(f"{method} {rule.rule} (htmx={htmx}): {', '.join(leaked)}")
    assert not found, f"{viewer} sees what is not theirs:\n" + "\n".join(found)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_list_search_or_export_shows_more_than_the_card(office, make_customer, login, viewer):
    users = office
    customer, _ = secret_customer(users, make_customer)
    session = login(users[viewer])
    found = []
    for path in LISTS:
        url = path.format(owner_id=users["owner"].id)
        for htmx in (False, True):
            response = session.htmx_get(url) if htmx else session.get(url)
            assert response.status_code < 500, f"{viewer} GET {url}: {response.status_code}"
            leaked = [what for what in leaks(text_of(response)) if viewer not in FULL or what == "phone"]
            if PHONE in url or (viewer in FULL and "export" in url):
                leaked.remove("phone") if "phone" in leaked else None  # typed in, or an export of one's own
            if leaked:
                found.append(f"GET {url} (htmx={htmx}): {', '.join(leaked)}")
    assert not found, f"{viewer} sees what is not theirs:\n" + "\n".join(found)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_client_page_is_the_card_for_who_may_not_see_in_full(office, make_customer, login, viewer):
    users = office
    customer, _ = secret_customer(users, make_customer)
    html = login(users[viewer]).get(f"/customers/{customer.id}").get_data(as_text=True)
    if viewer in FULL:
        assert 'data-testid="judge-card"' not in html
        assert SECRETS["follow-up"] in html and NAME in html
        return
    card = html.split('data-testid="judge-card"', 1)[1].split("</article>", 1)[0]
    assert "钱**" in card and "139****5678" in card
    assert users["owner"].display_name in card
    assert 'data-testid="registered-on"' in card and 'data-testid="protected-until"' in card
    assert ('data-testid="dispute-form"' in card) == (viewer in ("colleague", "other_rep"))
    assert 'data-testid="followup-form"' not in html and "Timeline" not in html and "时间线" not in html


def test_a_colleague_opens_a_dispute_from_the_card(office, make_customer, login):
    users = office
    customer, _ = secret_customer(users, make_customer)
    colleague = login(users["colleague"])
    response = colleague.post(f"/reception/customers/{customer.id}/dispute", {"reason": "我先接待的"})
    assert response.status_code == 303
    html = colleague.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="dispute-waiting"' in html and 'data-testid="dispute-form"' not in html
    assert NAME not in html


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_owner_filter_offers_only_what_the_viewer_may_see(office, login, viewer):
    users = office
    if viewer == "reception":
        return  # the desk has no customer list
    html = login(users[viewer]).get("/customers/").get_data(as_text=True)
    select = html.split('data-testid="filter-owner"', 1)[1].split("</select>", 1)[0]
    offered = {name for name in ("owner", "colleague", "other_rep") if f'value="{users[name].id}"' in select}
    expected = {
        "manager": {"owner", "colleague"},
        "other_manager": {"other_rep"},
        "auditor": {"owner", "colleague", "other_rep"},
        "admin": {"owner", "colleague", "other_rep"},
    }.get(viewer, set())
    assert offered == expected
