"""Customers: who may see what, finding them, and keeping their blind indexes right."""

import operator
import re
import unicodedata
from datetime import timedelta
from functools import partial, reduce

from peewee import JOIN, SQL, Case, fn

from villa.alerts import note_access
from villa.crypto import blind_index
from villa.db import unindexed
from villa.identity import (
    mask_name,
    normalise_id_number,
    normalise_phone,
    phone_last4,
)
from villa.lookups import begin_lookup, exact_query
from villa.models import AccessLog, Channel, Customer, User, Visit, now, office_day_start
from villa.name_index import name_contains
from villa.prepared import Prepared, slot
from villa.questions import QUESTIONS
from villa.questions import condition as question_condition

PAGE_SIZE = 25


def manages(manager: User, rep: User | None) -> bool:
    """A manager leads their own reps, and every rep who has no manager."""
    return rep is not None and (rep.manager_id is None or rep.manager_id == manager.id)


def can_see_full(user: User, customer: Customer) -> bool:
    """Does this user see the customer in full: the name, and the page beyond the 判客 card?

    One rule, also written as a query condition (visible_in_full); a test checks they agree.
    Full phone and ID numbers take one more step: can_reveal.
    """
    if customer.anonymised_at:
        return False
    if user.role == "rep":
        return customer.owner_id == user.id or bool(customer.in_public_pool)
    if user.role == "manager":
        return customer.owner_id is None or manages(user, customer.owner)
    if user.role == "reception":
        return registered_by_desk_today(customer)
    return user.role == "auditor"


def visible_in_full(user: User, indexed: bool = True):
    """can_see_full as a condition on Customer, for .where(): the customers this user sees in full.

    indexed=False keeps SQLite off the owner and pool indexes, for a query read along the id.
    """
    column = (lambda c: c) if indexed else unindexed
    live = Customer.anonymised_at.is_null()
    if user.role == "rep":
        return live & ((column(Customer.owner) == user.id) | (column(Customer.in_public_pool) == True))  # noqa: E712
    if user.role == "manager":
        managed = User.select(User.id).where(User.manager.is_null() | (User.manager == user.id))
        return live & (column(Customer.owner).is_null() | column(Customer.owner).in_(managed))
    if user.role == "reception":
        desk = User.select(User.id).where(User.role == "reception")
        return live & (Customer.registered_at >= office_day_start()) & Customer.registered_by.in_(desk)
    if user.role == "auditor":
        return live
    return SQL("1 = 0")


def listed(user: User):
    """The customers this user's list, searches by name or 尾号, filters and exports hold: those
    they see in full. The admin, who sees no customer in full, lists every one masked (merge and
    erasure are theirs). A complete phone or ID number is a lookup (the 判客 question) and finds any
    customer: that answer is the 判客 card, limited and logged (villa.lookups).

    Along the id, newest first, stopping at a page: a rep's own and the pool may be most rows.
    """
    if user.role == "admin":
        return SQL("1 = 1")
    return visible_in_full(user, indexed=False)


def filter_owners(user: User) -> list[User]:
    """The reps this user may filter the list by: a rep only themselves ("my customers"), a manager
    the reps they lead (and those without a manager), the audit team and the admin every rep."""
    if user.role == "rep":
        return []
    reps = User.select().where(User.role == "rep").order_by(User.display_name, User.id)
    if user.role == "manager":
        return list(reps.where(User.manager.is_null() | (User.manager == user.id)))
    if user.role in ("auditor", "admin"):
        return list(reps)
    return []


def registered_by_desk_today(customer: Customer) -> bool:
    """The front desk registered this customer today: the desk sees its name in full."""
    return customer.registered_at >= office_day_start() and customer.registered_by.role == "reception"


def can_reveal(user: User, customer: Customer) -> bool:
    """May this user show the full phone and ID number (each reveal is logged)?

    Only staff who work the customer and the audit team. A rep sees a pool customer's name, which
    claiming needs, but its phone only once the customer is theirs: the pool quota limits how many
    contacts a rep takes from the pool, and revealing without claiming would go round it.
    """
    if user.role not in ("rep", "manager", "auditor") or not can_see_full(user, customer):
        return False
    return user.role != "rep" or customer.owner_id == user.id


# What shown_name reads: the name, and what decides whether it shows in full (can_see_full). A
# customer row selected with these, and no more, carries its name as any viewer may see it.
SHOWN_NAME_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.owner,
    Customer.registered_at,
    Customer.in_public_pool,
    Customer.anonymised_at,
    Customer.registered_by,
)


def shown_name(user: User, customer: Customer) -> str:
    """The customer's name as this user sees it: in full, or masked (张**)."""
    return customer.name if can_see_full(user, customer) else mask_name(customer.name)


def with_shown_names(user: User, customers):
    """The customers as a list, each with `shown_name` set for this user (what templates print)."""
    customers = list(customers)
    for customer in customers:
        customer.shown_name = shown_name(user, customer)
    return customers


def can_write(user: User, customer: Customer) -> bool:
    """May this user change the customer or log follow-ups on it?"""
    if customer.archived_at or customer.anonymised_at:
        return False
    if user.role == "rep":
        return customer.owner_id == user.id
    if user.role == "manager":
        return customer.owner_id is None or manages(user, customer.owner)
    return False


def set_phone(customer: Customer, raw: str):
    """Store the phone in its one normal form, with the blind index that makes it unique.

    Raises IdentityError for a value that is not a phone number: nothing invalid is stored.
    """
    customer.phone = normalise_phone(raw)
    customer.phone_index = blind_index("phone", customer.phone)
    customer.phone_last4 = phone_last4(customer.phone)


def set_alt_phone(customer: Customer, raw: str | None):
    value = normalise_phone(raw) if raw else None
    customer.alt_phone = value
    customer.alt_phone_index = blind_index("phone", value)


def set_id_number(customer: Customer, id_type: str, raw: str | None):
    value = normalise_id_number(raw, id_type) if raw else None
    customer.id_type = id_type
    customer.id_number = value
    customer.id_index = blind_index("id", value)


def with_people():
    owner, registrar = User.alias(), User.alias()
    return (
        Customer.select(Customer, Channel, owner, registrar)
        .join(Channel, JOIN.LEFT_OUTER, on=(Customer.channel == Channel.id))
        .switch(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .switch(Customer)
        .join(registrar, JOIN.LEFT_OUTER, on=(Customer.registered_by == registrar.id))
    )


def _by_id_with_names():
    owner, registrar = User.alias(), User.alias()
    return (
        Customer.select(
            Customer,
            Channel.name.alias("channel_name"),
            owner.display_name.alias("owner_name"),
            registrar.display_name.alias("registrar_name"),
        )
        .join(Channel, JOIN.LEFT_OUTER, on=(Customer.channel == Channel.id))
        .switch(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .switch(Customer)
        .join(registrar, JOIN.LEFT_OUTER, on=(Customer.registered_by == registrar.id))
        .where(Customer.id == slot())
    )


_customer_by_id = Prepared(_by_id_with_names)


def customer_by_id(customer_id: int) -> Customer | None:
    """One customer, with what every page shows of its people: `channel_name`, `owner_name` (None
    in the pool) and `registrar_name`. `customer.owner` & co. load the whole row when asked."""
    return _customer_by_id.first(customer_id)


# Along the customer's few visits, not along the rep's (tens of thousands) or all return visits.
_unseen_return_visit = Prepared(
    lambda: (
        Visit.select(Visit.id)
        .where(
            Visit.customer == slot(),
            unindexed(Visit.rep) == slot(),
            Visit.acknowledged_at.is_null(),
            unindexed(Visit.is_first) == slot(),
        )
        .limit(SQL("1"))
    )
)


def acknowledge_return_visits(customer: Customer, rep: User):
    """The owner opened the client page: the return visits waiting for them are seen."""
    if _unseen_return_visit.first(customer.id, rep.id, False) is None:
        return  # a plain look at the page writes nothing
    Visit.update(acknowledged_at=now()).where(
        Visit.customer == customer,
        Visit.rep == rep,
        Visit.acknowledged_at.is_null(),
        Visit.is_first == False,  # noqa: E712
    ).execute()


def return_visits_waiting(rep: User):
    """The return visits handed to this rep that the rep has not opened yet, newest first: each
    visit with its customer as shown_name reads it."""
    return (
        Visit.select(Visit.id, Visit.kind, Visit.at, Visit.note, *SHOWN_NAME_COLUMNS)
        .join(Customer)
        .where(Visit.rep == rep, Visit.acknowledged_at.is_null(), Visit.is_first == False)  # noqa: E712
        .order_by(Visit.at.desc())
    )


def log_reveal(user: User, customer: Customer, fields: list[str], ip: str):
    AccessLog.create(actor=user, action="reveal", customer=customer, fields=",".join(fields), ip=ip)
    note_access(user, "reveal")


FILTERS = (
    "grade",
    "stage",
    "channel",
    "owner",
    "due",
    "pool",
    "budget",
    "unit_type",
    "area_band",
    "registered",
    "protection",
)
LIST_COLUMNS = (*SHOWN_NAME_COLUMNS, Customer.phone, Customer.channel, Customer.grade, Customer.stage)
PROTECTION_ENDING_DAYS = 3
# "王 8000", "8000", "尾号8000": a name (or none) and the phone's last four digits.
TAIL = re.compile(r"^(?P<name>.*?)\s*(?:尾号)?\s*(?P<tail>\d{4})$")


def list_rows(*extra):
    """Customers as list rows: only what a row shows (clients/_rows.html) and the `extra` columns,
    with owner and channel joined."""
    owner, channel = (User.id, User.display_name, User.manager), (Channel.id, Channel.name)
    return (
        Customer.select(*LIST_COLUMNS, *extra, *owner, *channel)
        .join(User, on=(Customer.owner == User.id), join_type=JOIN.LEFT_OUTER)
        .switch(Customer)
        .join(Channel)
    )


def search_customers(
    user: User, q: str = "", before_id: int | None = None, filters: dict | None = None, ip: str = ""
):
    """One page of customers, newest first: exact phone or ID through the blind index, else name.

    Each row carries `shown_name`. An exact number is a lookup (villa.lookups): refused beyond the
    user's limits (LookupRefused), counted unless it finds only customers the user sees in full, and
    logged for those it finds that the user may not see in full. Keyset pagination on the id
    (`before_id`) stays fast however many customers there are.
    """
    number = exact_query(q)
    lookup = begin_lookup(user, number) if number else None
    query = matching(list_rows(), user, q, filters)
    if before_id:
        query = query.where(Customer.id < before_id)
    rows = with_shown_names(user, query.order_by(Customer.id.desc()).limit(PAGE_SIZE + 1))
    if lookup:
        lookup.record(rows, partial(can_see_full, user), ip)
    more = len(rows) > PAGE_SIZE
    return rows[:PAGE_SIZE], (rows[PAGE_SIZE - 1].id if more else None)


def matching(query, user: User, q: str = "", filters: dict | None = None):
    """The list's search and filters applied to a customer query (the list and its export share it).

    The list holds what the user may list (listed): a name or 尾号 matches only among the customers
    the user sees in full, so a search must not tell who hides behind a masked name; only a complete
    phone or ID number (a counted, logged lookup) finds a customer beyond them, as its 判客 card.
    """
    q = (q or "").strip()
    number = exact_query(q) if q else None
    if number is not None:
        query = query.where(_number_match(number))
    elif q:
        query = query.where(_text_match(user, q))
    else:
        query = query.where(listed(user))
    for condition in _filter_conditions(user, filters or {}):
        query = query.where(condition)
    return query


def matching_counts(user: User, common: dict, each: dict[str, dict]) -> dict[str, int]:
    """How many customers the list shows this user with the `common` filters and, for each key of
    `each`, its filters besides: the same conditions as matching, counted in one statement."""
    columns = []
    for key, filters in each.items():
        conditions = list(_filter_conditions(user, filters))
        if conditions:
            counted = fn.COUNT(Case(None, [(reduce(operator.and_, conditions), 1)]))
        else:
            counted = fn.COUNT(SQL("*"))
        columns.append(counted.alias(key))
    row = matching(Customer.select(*columns), user, "", common).tuples().get()
    return dict(zip(each, row, strict=True))


def split_search(q: str) -> tuple[str, str]:
    """The name part and the 尾号 (last four digits, '' when none) of a search text."""
    text = unicodedata.normalize("NFKC", q or "").strip()
    found = TAIL.match(text)
    if found is None:
        return text, ""
    return found.group("name").strip(), found.group("tail")


def _text_match(user: User, q: str):
    name, tail = split_search(q)
    # Newest first along the id, stopping at a page: a rep's own and the pool may be most rows.
    condition = visible_in_full(user, indexed=False)
    if name:
        # A literal substring, so % and _ typed by a user match themselves, answered from the gram
        # index (villa.name_index) so that a name nobody has reads no customer.
        condition &= name_contains(name)
    if tail:
        condition &= Customer.phone_last4 == tail
    return condition


def _number_match(number):
    indexes = number.indexes()  # two while the index key is being rotated
    if number.field == "phone":
        return Customer.phone_index.in_(indexes) | Customer.alt_phone_index.in_(indexes)
    return Customer.id_index.in_(indexes)


def owner_filter(user: User, value) -> int | str | None:
    """The owner filter's value as far as this user may filter by it: "me", a rep's id, or None."""
    value = str(value or "")
    if value == "me" or (user.role == "rep" and value == str(user.id)):
        return "me" if user.role == "rep" else None
    if value.isdigit() and int(value) in {rep.id for rep in filter_owners(user)}:
        return int(value)
    return None


def _filter_conditions(user: User, filters: dict):
    """Conditions for the list's filters; unknown, empty or not-yours values are ignored."""
    from villa.fields import AREA_BANDS, BUDGET_BANDS, UNIT_TYPES
    from villa.models import GRADES, STAGES, office_today

    if filters.get("grade") in GRADES:
        yield Customer.grade == filters["grade"]
    if filters.get("stage") in STAGES:
        yield Customer.stage == filters["stage"]
    if filters.get("channel"):
        yield Customer.channel == Channel.select(Channel.id).where(Channel.code == filters["channel"])
    for name, column, bands in (
        ("budget", Customer.budget, BUDGET_BANDS),
        ("unit_type", Customer.unit_type, UNIT_TYPES),
        ("area_band", Customer.area_band, AREA_BANDS),
    ):
        if filters.get(name) and filters[name] in bands:
            yield column == filters[name]
    owner = owner_filter(user, filters.get("owner"))
    if owner == "me":
        yield Customer.owner == user.id
    elif owner is not None:
        yield Customer.owner == owner
    if filters.get("due") == "today":
        yield Customer.next_followup_on == office_today()
    elif filters.get("due") == "overdue":
        yield Customer.next_followup_on < office_today()
    if filters.get("pool") == "1":
        yield Customer.in_public_pool == True  # noqa: E712
    if filters.get("registered") == "today":
        yield Customer.registered_at >= office_day_start()
    if filters.get("protection") == "ending":
        yield Customer.protected_until.between(now(), now() + timedelta(days=PROTECTION_ENDING_DAYS))
    # The questions villa offices ask: answers only of customers the user may see in full, so a
    # filter cannot tell anything about a customer behind a masked name.
    for name in QUESTIONS:
        if filters.get(name):
            yield question_condition(name, filters[name]) & visible_in_full(user, indexed=False)
