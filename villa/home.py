"""Each role's home page: the rep's day, and the few numbers and rows every other role looks at first.

One count, one definition: every number on a home page is a Count, a link to the list behind it,
worked out by the query that list runs (the customer list's villa.customers.matching with the link's
filters, the review queue, the pool, the disputes, the access log), so following it shows as many rows.
"""

from dataclasses import dataclass, field

from villa.alerts import recent_alerts, unusual_activity
from villa.clock import office_day_start, office_today
from villa.customers import (
    SHOWN_NAME_COLUMNS,
    list_rows,
    matching,
    matching_counts,
    return_visits_waiting,
    with_people,
    with_shown_names,
)
from villa.db import capped_count, unindexed
from villa.deals import waiting_count
from villa.i18n import lazy_gettext as _l
from villa.jobs import upkeep
from villa.logs import LogFilter, log_count
from villa.models import Customer, User
from villa.ownership import disputes_for, disputes_of, in_the_pool
from villa.review import latest_rejections, queue_count

DESK_TODAY_LIMIT = 200
HOME_LIST_LIMIT = 20  # rows of each list on a rep's home; its count links to the whole list
# The day's registrations and the pool are counted up to here and then shown as "over": at a group's
# scale (10M customers) counting the 550,000 in the pool took a manager's home 0.6 s, the 8,000 of
# the team's day 0.16 s. An office's day stays far below it.
HOME_COUNT_CAP = 1000


@dataclass(frozen=True)
class Count:
    """A number on a home page and the page that lists what it counts (endpoint and its arguments)."""

    key: str
    label: object
    number: int
    endpoint: str
    args: dict = field(default_factory=dict)
    more: bool = False  # more than `number`: a count that stops at a cap (the queue, a day, the pool)


def _listed_customers(user: User, filters: dict):
    """The customers the customer list shows this user with these filters (a query to count)."""
    return matching(Customer.select(), user, "", filters)


def _queue(key: str, label, user: User) -> Count:
    """The review queue's length: counted up to review.QUEUE_COUNT_CAP, as the queue counts it."""
    number, more = queue_count(user)
    return Count(key, label, number, "review.queue", more=more)


def _on_list(key: str, label, user: User, **filters) -> Count:
    # How many customers the list shows this user with these filters, over all its pages.
    return Count(key, label, _listed_customers(user, filters).count(), "clients.index", filters)


def _capped(key: str, label, query, endpoint: str, args: dict | None = None) -> Count:
    """The rows of `query` counted up to HOME_COUNT_CAP (`more` when there are more)."""
    number, more = capped_count(query, HOME_COUNT_CAP)
    return Count(key, label, number, endpoint, args or {}, more=more)


# What a line of the rep's day shows (home.html day_list): the name as the rep may see it, the
# grade, and the stage or the date the list is about. No phone, channel or owner: no join.
DAY_COLUMNS = (
    *SHOWN_NAME_COLUMNS,
    Customer.grade,
    Customer.stage,
    Customer.next_followup_on,
    Customer.protected_until,
    Customer.review_status,
)


def _listed(user: User, limit: int, order, rows=None, **filters):
    """The first rows of the list with these filters, as `rows` (default: a line of the day) reads them."""
    rows = Customer.select(*DAY_COLUMNS) if rows is None else rows
    return with_shown_names(user, matching(rows, user, "", filters).order_by(*order).limit(limit))


# The rep's figures: each counts the rep's own customers the customer list shows with these filters.
# The last, registered today, is the line above the others.
REP_COUNTS = (
    ("my_customers", _l("My customers"), {}),
    ("due_today", _l("Follow-ups due today"), {"due": "today"}),
    ("overdue", _l("Overdue"), {"due": "overdue"}),
    ("protection_ending", _l("Protection ends within 3 days"), {"protection": "ending"}),
    ("registered_today", _l("Registered today"), {"registered": "today"}),
)


def rep_day(rep: User, limit: int = HOME_LIST_LIMIT) -> dict:
    """The rep's day: who to call today, who is overdue, whose protection is ending, what to fix.

    Each list is the first rows of the customer list its count links to (the rep's own customers
    with that filter); every customer in it carries `shown_name`.
    """
    to_fix = with_shown_names(
        rep,
        Customer.select(*DAY_COLUMNS)
        .where(
            Customer.review_status == "rejected",
            (Customer.owner == rep) | (Customer.registered_by == rep),
        )
        # Found by status and person, then sorted: read along the id, SQLite would open every
        # customer before the first of a rep with few rejections.
        .order_by(unindexed(Customer.id))
        .limit(limit),
    )
    return_visits = list(return_visits_waiting(rep).limit(20))
    disputes = list(disputes_of(rep).limit(10))
    with_shown_names(rep, [v.customer for v in return_visits] + [d.customer for d in disputes])
    # Every count of the rep's own customers in one statement, each with its list's filters.
    number = matching_counts(rep, {"owner": "me"}, {key: filters for key, _label, filters in REP_COUNTS})
    counts = [
        Count(key, label, number[key], "clients.index", {"owner": "me", **filters})
        for key, label, filters in REP_COUNTS
    ]
    count_of = {count.key: count for count in counts}
    return {
        "counts": counts[:-1],
        "count_of": count_of,
        "registered_today": count_of["registered_today"],
        "due_today": _listed(rep, limit, (Customer.id,), owner="me", due="today"),
        "overdue": _listed(rep, limit, (Customer.next_followup_on, Customer.id), owner="me", due="overdue"),
        "protection_ending": _listed(
            rep, limit, (Customer.protected_until, Customer.id), owner="me", protection="ending"
        ),
        "to_fix": to_fix,
        "rejections": latest_rejections(to_fix),  # the latest reason, by customer id
        "return_visits": return_visits,
        "disputes": disputes,
        # 我最近登记的客户: the rep's own customers, newest first (walk-ins the desk registered for them too).
        "recent": _listed(rep, 10, (Customer.id.desc(),), list_rows(), owner="me"),
    }


def registered_today(user: User) -> Count:
    """The customers registered today that this user's list holds: a manager's team's, everyone's
    for the audit team and the admin (a rep's own are among the rep's counts, REP_COUNTS); the
    desk's list is a page of its own (the desk is the receptionist's home and links to it)."""
    label = _l("Registered today")
    if user.role == "reception":
        # Counted without the list's joins: PostgreSQL then reads the date index alone.
        today = Customer.select().where(_since_today())
        return _capped("registered_today", label, today, "reception.registered_today_list")
    filters = {"registered": "today"}
    return _capped("registered_today", label, _listed_customers(user, filters), "clients.index", filters)


def _pool_customers():
    return Customer.select().where(in_the_pool())


def _since_today():
    return Customer.registered_at >= office_day_start()


def _desk_today():
    return with_people().where(_since_today())


def home_summary(user: User) -> dict:
    """The few numbers and rows each role looks at first; customers carry `shown_name`."""
    if user.role == "rep":
        return rep_day(user)
    summary = {"registered_today": registered_today(user), "counts": []}
    if user.role == "manager":
        summary["counts"] = [
            _queue("pending_first", _l("Waiting for first review"), user),
            _capped("public_pool", _l("In the public pool"), _pool_customers(), "pool.index"),
            Count("open_disputes", _l("Open disputes"), len(disputes_for(user)), "disputes.index"),
            # The length of /deals/, from its query.
            Count("deals_waiting", _l("Deals to confirm"), waiting_count(user), "deals.waiting"),
        ]
        latest = matching(with_people(), user).order_by(Customer.id.desc()).limit(10)
        summary["recent"] = with_shown_names(user, latest)
    elif user.role == "auditor":
        today = office_today()
        reveals = {
            "tab": "access",
            "action": "reveal",
            "date_from": today.isoformat(),
            "date_to": today.isoformat(),
        }
        summary["counts"] = [
            _queue("pending_second", _l("Waiting for second review"), user),
            Count(
                "reveals_today",
                _l("Full numbers revealed today"),
                log_count("access", LogFilter(action="reveal", date_from=today, date_to=today)),
                "logs.index",
                reveals,
            ),
        ]
        summary["unusual_activity"] = unusual_activity()
        summary["alerts"] = recent_alerts(office_day_start())
    elif user.role == "admin":
        summary["counts"] = [
            Count("users", _l("User accounts"), User.select().count(), "admin.users"),
            _on_list("customers", _l("Customers on record"), user),
        ]
        summary["upkeep"] = upkeep()
    return summary


def desk_registered_today(user: User) -> dict:
    """The desk's 今日登记: the count and the newest DESK_TODAY_LIMIT customers registered today."""
    registered = _desk_today().order_by(Customer.id.desc()).limit(DESK_TODAY_LIMIT)
    return {"registered_today": registered_today(user), "recent": with_shown_names(user, registered)}
