"""The navigation each role sees: only pages that role may open."""

from flask import url_for

from villa.i18n import lazy_gettext as _l

# (endpoint, label, roles allowed)
NAV = (
    # The receptionist's home is the desk: / takes her there, so no second link to it.
    ("home.index", _l("Home"), ("rep", "manager", "auditor", "admin")),
    ("reception.desk", _l("Front desk"), ("reception", "rep", "manager")),
    # A manager registers from the desk page's 客户登记 button: one link fewer keeps the top row one row.
    ("reception.register_customer", _l("Register"), ("reception", "rep")),
    ("clients.index", _l("Customers"), ("rep", "manager", "auditor", "admin")),
    ("pool.index", _l("Public pool"), ("rep", "manager")),
    ("disputes.index", _l("Disputes"), ("manager",)),
    ("review.queue", _l("Review"), ("manager", "auditor")),
    ("outbox.index", _l("Messages"), ("reception", "manager")),
    ("corrections.index", _l("Customer corrections"), ("manager", "auditor")),
    ("logs.index", _l("Logs"), ("auditor", "admin")),
    ("incidents.index", _l("Incidents"), ("auditor", "admin")),
    ("account.pledge_acceptances", _l("Pledges"), ("auditor",)),
    ("analytics.dashboard", _l("Analytics"), ("manager", "admin")),
    ("analytics.my_card", _l("My scorecard"), ("rep",)),
    ("agencies.index", _l("Agents"), ("manager", "admin")),  # 中介: short, a manager has eleven links
    ("agencies.report", _l("Report by agency"), ("auditor",)),
    ("admin.index", _l("Administration"), ("admin",)),
    ("broker.reports", _l("My pre-registrations"), ("broker",)),
)


def nav_for(user):
    """Menu entries (url, label, endpoint) for this user's role."""
    if not user.is_authenticated:
        return []
    return [(url_for(endpoint), label, endpoint) for endpoint, label, roles in NAV if user.role in roles]


# The account menu's entries besides the password, the language and logging out.
ACCOUNT_MENU = (
    ("notifications.index", _l("Notifications"), ("reception", "rep", "manager", "auditor", "admin")),
    ("notifications.preferences", _l("Where my reminders go"), ("rep", "manager")),
)


def account_links(user):
    """Account menu entries (url, label) for this user's role."""
    if not user.is_authenticated:
        return []
    return [(url_for(endpoint), label) for endpoint, label, roles in ACCOUNT_MENU if user.role in roles]


def may_open(user, endpoint: str) -> bool:
    """Is this account menu entry for this user's role?"""
    return any(user.role in roles for known, _label, roles in ACCOUNT_MENU if known == endpoint)
