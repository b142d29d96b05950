"""The navigation each role sees: only pages that role may open."""

from flask import url_for
from flask_babel import lazy_gettext as _l

# (endpoint, label, roles allowed)
NAV = (
    ("home.index", _l("Home"), ("reception", "rep", "manager", "auditor", "admin")),
    ("reception.desk", _l("Front desk"), ("reception", "rep", "manager")),
    ("reception.register_customer", _l("Register"), ("reception", "rep", "manager")),
    ("clients.index", _l("Customers"), ("rep", "manager", "auditor", "admin")),
    ("pool.index", _l("Public pool"), ("rep", "manager")),
    ("disputes.index", _l("Disputes"), ("manager",)),
    ("outbox.index", _l("Messages"), ("reception", "manager")),
    ("admin.index", _l("Administration"), ("admin",)),
)


def nav_for(user):
    """Menu entries (url, label, endpoint) for this user's role."""
    if not user.is_authenticated:
        return []
    return [(url_for(endpoint), label, endpoint) for endpoint, label, roles in NAV if user.role in roles]
