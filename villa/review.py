"""Two-level review (审核) of a registration: the rep's manager first, the audit team second.

A decision moves the record with a conditional UPDATE on its current status, so of two reviewers
clicking at once exactly one decides; the other is told it was already reviewed.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from peewee import JOIN, SQL, Select, ValuesList, fn

from villa.customers import SHOWN_NAME_COLUMNS, manages
from villa.db import capped_count, write_transaction
from villa.eligibility import current_rules, evaluate
from villa.i18n import lazy_gettext as _l
from villa.messaging import compose, deliver
from villa.models import AuditLog, Channel, Customer, Review, User, now, office_day_start
from villa.prepared import Prepared, slot
from villa.report_panel import confirmed_reports

LEVELS = {1: "pending_first", 2: "pending_second"}
LEVEL_ROLES = {1: "manager", 2: "auditor"}
QUEUE_LIMIT = 25  # rows a page: each, with its checks and both decision forms, costs about 1 ms
# The queue counts up to this many and then says "over 1000": a group's 40,000 waiting are not counted
# again on every page and every home page, and nobody needs their exact number to decide the oldest.
QUEUE_COUNT_CAP = 1000
REASON_MAX = 500
NEAR_DUPLICATE_DAYS = 30
# What a complete registration holds: (label, test). Required and recommended fields alike.
COMPLETENESS = (
    ("name", lambda c: bool(c.name)),
    ("phone", lambda c: bool(c.phone_index)),
    ("channel", lambda c: bool(c.channel_id)),
    ("gender", lambda c: c.gender in ("M", "F")),
    ("age_band", lambda c: bool(c.age_band)),
    ("unit_type", lambda c: bool(c.unit_type)),
    ("area_band", lambda c: bool(c.area_band)),
    ("budget", lambda c: bool(c.budget)),
    ("purpose", lambda c: bool(c.purpose)),
    ("hukou_local", lambda c: c.hukou_local is not None),
    ("social_insurance_months", lambda c: c.social_insurance_months is not None or bool(c.hukou_local)),
    ("homes_owned", lambda c: c.homes_owned is not None),
)


class ReviewRefused(Exception):
    """The decision cannot be made; `kind` says why: not_allowed, already_reviewed or invalid."""

    def __init__(self, message, kind: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.kind = kind


NOT_YOURS = _l("You may not review this registration.")
ALREADY_REVIEWED = _l("This registration was already reviewed by someone else.")
NOT_YOURS_TO_RESUBMIT = _l("Only the owner or the registrant resubmits a rejected record.")


def level_of(customer: Customer) -> int | None:
    return next((n for n, state in LEVELS.items() if state == customer.review_status), None)


def level_for(user: User) -> int | None:
    """The level this user reviews at, by role."""
    return next((n for n, role in LEVEL_ROLES.items() if role == user.role), None)


def may_review(user: User, customer: Customer) -> bool:
    """Is this registration in this user's queue now, at the level it waits at?"""
    level = level_of(customer)
    return level is not None and level_for(user) == level and reviews(user, customer)


def reviews(user: User, customer: Customer) -> bool:
    """Is this customer's registration this user's to review, whatever level it stands at now?

    The audit team reviews every record at the second level; a manager, at the first, the team's
    customers and those of reps without a manager. Nobody reviews what they registered or own.
    """
    level = level_for(user)
    if level is None or user.id in (customer.registered_by_id, customer.owner_id):
        return False
    if level == 2:
        return True
    return customer.owner_id is None or manages(user, customer.owner) or _team_manager_conflicted(customer)


def _team_manager_conflicted(customer: Customer) -> bool:
    # The rep's own manager registered the customer: any other manager reviews it, else nobody could.
    return customer.owner.manager_id is not None and customer.owner.manager_id == customer.registered_by_id


def _decide(customer: Customer, reviewer: User, new_status: str) -> int:
    """Move the record from the level it is at to `new_status`; inside a write transaction."""
    if not may_review(reviewer, customer):
        raise ReviewRefused(NOT_YOURS, "not_allowed")
    level = level_of(customer)
    moment = now()
    changed = (
        Customer.update(review_status=new_status, updated_at=moment)
        .where(Customer.id == customer.id, Customer.review_status == LEVELS[level])
        .execute()
    )
    if not changed:
        raise ReviewRefused(ALREADY_REVIEWED, "already_reviewed")
    customer.review_status, customer.updated_at = new_status, moment
    return level


def _log(customer: Customer, actor: User, action: str, changes: dict):
    AuditLog.on_customer(customer, actor, action, changes)


def approve(customer: Customer, reviewer: User) -> Customer:
    """The manager's approval sends the record to the audit team; the auditor's approves it."""
    before = customer.review_status
    try:
        with write_transaction():
            new_status = "pending_second" if level_of(customer) == 1 else "approved"
            level = _decide(customer, reviewer, new_status)
            Review.create(customer=customer, level=level, decision="approved", reviewer=reviewer)
            _log(customer, reviewer, "review_approved", {"level": level})
            message = compose(customer, "approval") if new_status == "approved" else None
    except Exception:
        customer.review_status = before
        raise
    _send_after_commit(message)
    return customer


def clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused(_l("Give the reason for the rejection."))
    if len(reason) > REASON_MAX:
        raise ReviewRefused(_l("Keep the reason under 500 characters."))
    return reason


def reject(customer: Customer, reviewer: User, reason: str) -> Customer:
    """Send the record back to the rep, and tell the customer why (an outbox message)."""
    reason = clean_reason(reason)
    before = customer.review_status
    try:
        with write_transaction():
            level = _decide(customer, reviewer, "rejected")
            Review.create(
                customer=customer, level=level, decision="rejected", reason=reason, reviewer=reviewer
            )
            _log(customer, reviewer, "review_rejected", {"level": level, "reason": reason})
            message = compose(customer, "rejection", reason)
    except Exception:
        customer.review_status = before
        raise
    _send_after_commit(message)
    return customer


def _send_after_commit(message):
    # The decision and its message are saved together; the gateway's network call comes after
    # the commit, so a slow SMS provider never holds the database's write lock.
    if message is not None:
        deliver(message)


def fixes(actor: User, customer: Customer) -> bool:
    """The owner or the registrant fixes a rejected record, or the owner's manager does."""
    if customer.archived_at or customer.anonymised_at:
        return False
    if actor.id in (customer.owner_id, customer.registered_by_id):
        return True
    return actor.role == "manager" and (customer.owner_id is None or manages(actor, customer.owner))


def may_resubmit(actor: User, customer: Customer) -> bool:
    return customer.review_status == "rejected" and fixes(actor, customer)


def resubmit(customer: Customer, actor: User) -> Customer:
    """The fixed record goes back to the first level."""
    if not fixes(actor, customer):
        raise ReviewRefused(NOT_YOURS_TO_RESUBMIT, "not_allowed")
    with write_transaction():
        changed = (
            Customer.update(review_status="pending_first", updated_at=now())
            .where(Customer.id == customer.id, Customer.review_status == "rejected")
            .execute()
        )
        if not changed:
            raise ReviewRefused(_l("This record is not waiting to be fixed."), "already_reviewed")
        _log(customer, actor, "resubmitted", {})
    customer.review_status = "pending_first"
    return customer


@dataclass
class QueueFilters:
    rep: int | None = None
    channel: str = ""
    registered_from: date | None = None
    registered_to: date | None = None


@dataclass
class QueuePage:
    """One page of the queue: at most QUEUE_LIMIT registrations, oldest first, of `total` waiting;
    `more`: over QUEUE_COUNT_CAP wait, and `total` is the cap."""

    customers: list
    total: int
    page: int  # from 1
    pages: int
    more: bool = False

    @property
    def capped(self) -> bool:
        return self.more or self.total > len(self.customers)

    @property
    def has_next(self) -> bool:
        """A page follows: within the counted pages, or past them while this page is full."""
        return self.page < self.pages or (self.more and len(self.customers) == QUEUE_LIMIT)

    @property
    def first(self) -> int:
        """The position of the page's first row in the whole queue, from 1."""
        return (self.page - 1) * QUEUE_LIMIT + 1


Owner = User.alias()  # the customer's owner, as the queue's query joins it
# What a queue row shows and checks (review/_row.html, glance, can_see_full).
QUEUE_COLUMNS = (
    *SHOWN_NAME_COLUMNS,
    Customer.phone,
    Customer.phone_index,
    Customer.alt_phone_index,
    Customer.id_index,
    Customer.channel,
    Customer.gender,
    Customer.age_band,
    Customer.unit_type,
    Customer.area_band,
    Customer.budget,
    Customer.purpose,
    Customer.hukou_local,
    Customer.social_insurance_months,
    Customer.homes_owned,
    Customer.consent_at,
    Customer.notice_version,
    Customer.review_status,
    Customer.archived_at,
)


def queue(user: User, filters: QueueFilters | None = None, page: int = 1) -> QueuePage:
    """The registrations waiting at this user's level, oldest first, a page of QUEUE_LIMIT at a
    time; a manager sees their team's. The total is of the same query (the home page counts it)."""
    waiting = queue_query(user, filters)
    if waiting is None:
        return QueuePage([], 0, 1, 1)
    total, more = _capped_count(waiting)
    pages = max(1, -(-total // QUEUE_LIMIT))
    page = max(1, page) if more else min(max(1, page), pages)
    # The page's ids first, from the queue's indexes alone (see queue_query); then only those rows,
    # with what a row and its checks show.
    oldest = (
        waiting.order_by(SQL("registered_at"), SQL("id"))
        .offset((page - 1) * QUEUE_LIMIT)
        .limit(QUEUE_LIMIT)
        .alias("oldest")
    )
    rows = (
        Customer.select(
            *QUEUE_COLUMNS,
            Owner.id,
            Owner.display_name,
            Owner.manager,
            Channel.id,
            Channel.name,
            Channel.kind,
        )
        .join_from(Customer, Owner, JOIN.LEFT_OUTER, on=(Customer.owner == Owner.id))
        .join_from(Customer, Channel)
        .where(Customer.id.in_(Select([oldest], [oldest.c.id])))
        .order_by(Customer.registered_at, Customer.id)
    )
    return QueuePage(list(rows), total, page, pages, more)


def _capped_count(waiting) -> tuple[int, bool]:
    """(how many wait, up to QUEUE_COUNT_CAP; whether more than that do)."""
    return capped_count(waiting, QUEUE_COUNT_CAP)


def queue_count(user: User) -> tuple[int, bool]:
    """How many registrations wait in this user's queue (all pages, no filter), up to
    QUEUE_COUNT_CAP, and whether more than that do."""
    query = queue_query(user)
    return (0, False) if query is None else _capped_count(query)


def queue_query(user: User, filters: QueueFilters | None = None):
    """The registrations waiting at this user's level, as (id, registered_at) rows in no order;
    None for who reviews nothing.

    The audit team's is every one at the second level, read along the queue's index in date order.
    A manager's (see `reviews`) is three disjoint sets put together (UNION ALL), each read along an
    index of migration 0024: the unowned, and those of the team's reps and of reps without a
    manager, by owner; those the owner's own manager registered, by registrant (a group's managers
    are fewer than its reps; PostgreSQL's planner may still go by owner, a few ms at 700 reps). One
    condition over the owner's row instead (as before) could use no index: a manager's count walked
    a group's whole queue in date order, 17 ms at 1M customers on PostgreSQL, to find a team's
    hundred.
    """
    level = level_for(user)
    if level is None:
        return None
    filters = filters or QueueFilters()
    conditions = [
        Customer.review_status == LEVELS[level],
        Customer.anonymised_at.is_null(),
        Customer.registered_by != user.id,
    ]
    if filters.rep:
        conditions.append(Customer.owner == filters.rep)
    if filters.channel:
        channel = Channel.select(Channel.id).where(Channel.code == filters.channel)
        conditions.append(Customer.channel == channel)
    if filters.registered_from:
        conditions.append(Customer.registered_at >= office_day_start(filters.registered_from))
    if filters.registered_to:
        end = office_day_start(filters.registered_to + timedelta(days=1))
        conditions.append(Customer.registered_at < end)
    waiting = Customer.select(Customer.id, Customer.registered_at).where(*conditions)
    if level == 2:
        return waiting.where(Customer.owner.is_null() | (Customer.owner != user.id))
    team_or_unmanaged = User.select(User.id).where((User.manager == user.id) | User.manager.is_null())
    return (
        waiting.where(Customer.owner.is_null())
        + waiting.where(Customer.owner != user.id, Customer.owner.in_(team_or_unmanaged))
        # The rep's own manager registered it: any other manager reviews it, else nobody could.
        # The registrant's IN is implied by the owner's condition: it is there so that the customers
        # are read by registrant, and the CROSS JOIN keeps them SQLite's outer loop.
        + waiting.join(Owner, JOIN.CROSS).where(
            Customer.registered_by.in_(User.select(User.manager).where(User.manager.is_null(False))),
            Customer.owner != user.id,
            Owner.id == Customer.owner,
            Owner.manager == Customer.registered_by,
        )
    )


def batch_approve(customer_ids, reviewer: User) -> tuple[list[Customer], list[int]]:
    """Approve each one this reviewer may; returns (approved customers, refused ids)."""
    approved, refused = [], []
    for customer_id in list(dict.fromkeys(customer_ids))[:QUEUE_LIMIT]:
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None:
            refused.append(customer_id)
            continue
        try:
            approved.append(approve(customer, reviewer))
        except ReviewRefused:
            refused.append(customer_id)
    return approved, refused


def glance(
    customer: Customer,
    rules: dict | None = None,
    near_duplicates: int | None = None,
    reports: dict | None = None,
) -> dict:
    """The checks of one queue row; `near_duplicates` counted and `reports` (confirmed_reports)
    read beforehand save queries per row."""
    filled = [name for name, test in COMPLETENESS if test(customer)]
    if near_duplicates is None:
        near_duplicates = near_duplicate_counts([customer])[customer.id]
    if reports is None:
        reports = confirmed_reports([customer.id])
    return {
        "completeness": round(100 * len(filled) / len(COMPLETENESS)),
        "missing": [name for name, _test in COMPLETENESS if name not in filled],
        # A stored ID number was normalised and checked on the way in: present means valid.
        "id_valid": "present" if customer.id_index else "absent",
        "eligibility": evaluate(
            customer.hukou_local,
            customer.social_insurance_months,
            customer.homes_owned,
            rules if rules is not None else current_rules(),
        ),
        "consent": bool(customer.consent_at and customer.notice_version),
        "near_duplicates": near_duplicates,
        # The confirmed 报备's agency and broker; a broker's channel without one was typed by hand.
        "report": reports.get(customer.id),
        "report_expected": customer.channel.asks_broker,
        "age": max(now() - customer.registered_at, timedelta(0)),
    }


def glances(customers: list[Customer]) -> dict[int, dict]:
    """Glances for a whole queue page: the rules read once, the near-duplicates in two queries."""
    rules = current_rules()
    near = near_duplicate_counts(customers)
    reports = confirmed_reports(c.id for c in customers)
    return {c.id: glance(c, rules, near[c.id], reports) for c in customers}


def near_duplicate_counts(customers: list[Customer]) -> dict[int, int]:
    """How many other customers each of these may duplicate (_near), by customer id.

    Those of the same name registered within 30 days are counted by the database, all rows at once
    through the (name, registered_at) index: a common name has thousands of customers in a group's
    register, and only the counts come back. Those that share an alternate phone are few, and are
    read (through the phone indexes) and kept by _near when they are outside the 30 days."""
    if not customers:
        return {}
    span = timedelta(days=NEAR_DUPLICATE_DAYS)
    window = ValuesList(
        [(c.id, c.name, c.registered_at - span, c.registered_at + span) for c in customers]
    ).cte("shown", columns=("customer_id", "name", "earliest", "latest"))
    other = Customer.alias()
    in_window = (
        other.select(window.c.customer_id, fn.COUNT(SQL("*")))
        .from_(window)
        .join(
            other,
            on=(other.name == window.c.name)
            & other.registered_at.between(window.c.earliest, window.c.latest),
        )
        .group_by(window.c.customer_id)
        .with_cte(window)
        .tuples()
    )
    counts = {c.id: 0 for c in customers}
    for customer_id, number in in_window:
        counts[customer_id] += number - 1  # the customer itself is in its own window
    names = {c.name for c in customers}
    phones = list({i for c in customers for i in (c.phone_index, c.alt_phone_index) if i})
    alternates = list({c.alt_phone_index for c in customers if c.alt_phone_index})
    sharing = Customer.alt_phone_index.in_(phones)
    if alternates:
        sharing |= Customer.phone_index.in_(alternates)
    fields = (
        Customer.id,
        Customer.name,
        Customer.phone_index,
        Customer.alt_phone_index,
        Customer.registered_at,
    )
    by_phone = [o for o in Customer.select(*fields).where(sharing) if o.name in names] if phones else []
    for customer in customers:
        for o in by_phone:
            if abs(o.registered_at - customer.registered_at) > span and _near(customer, o):
                counts[customer.id] += 1
    return counts


def _near(customer: Customer, other: Customer) -> bool:
    """Same name, and the same alternate phone or a registration within 30 days of this one."""
    if other.id == customer.id or other.name != customer.name:
        return False
    phones = {customer.phone_index, customer.alt_phone_index} - {None}
    if other.alt_phone_index and other.alt_phone_index in phones:
        return True
    if customer.alt_phone_index and other.phone_index == customer.alt_phone_index:
        return True
    return abs(other.registered_at - customer.registered_at) <= timedelta(days=NEAR_DUPLICATE_DAYS)


def latest_rejections(customers) -> dict[int, Review]:
    """The latest rejection of each of these customers, by customer id, in one query."""
    ids = [c.id for c in customers]
    if not ids:
        return {}
    rows = (
        Review.select()
        .where(Review.customer.in_(ids), Review.decision == "rejected")
        .order_by(Review.at, Review.id)
    )
    return {row.customer_id: row for row in rows}


_history = Prepared(
    lambda: (
        Review.select(Review, User.display_name.alias("reviewer_name"))
        .join(User)
        .where(Review.customer == slot())
        .order_by(Review.at, Review.id)
    )
)


def history(customer: Customer) -> list[Review]:
    """Every decision on this registration, oldest first, with the reviewer."""
    return list(_history.rows(customer.id))
