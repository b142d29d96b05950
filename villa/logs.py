"""Reading the access log (reveals, lookups and exports) and the audit log (changes, and the alerts
for the audit team among them). Nothing here writes: the logs are append-only, and no page or
command edits or deletes a row.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from peewee import JOIN

from villa.models import AccessLog, AuditLog, Customer, User, office_day_start

PAGE_SIZE = 50
MAX_ID = 2**63 - 1  # beyond it a number cannot be a row id (nor a database parameter)
WHO_SAW_ROWS = 20
ACCESS_ACTIONS = ("reveal", "lookup", "export")
# Any audit-log row whose action starts with this is an alert for the audit team (villa.alerts).
ALERT_PREFIX = "alert_"
LOGS = {"access": AccessLog, "audit": AuditLog, "alerts": AuditLog}


@dataclass
class LogFilter:
    """What the audit team narrows a log to; None or "" means any."""

    user_id: int | None = None
    customer_id: int | None = None
    action: str = ""
    date_from: date | None = None  # office dates, both ends included
    date_to: date | None = None


def log_page(log: str, filters: LogFilter, before_id: int | None = None):
    """One page of a log, newest first, and the id to continue before (None on the last page).

    Keyset pagination on the id stays fast however long the log grows.
    """
    model = LOGS[log]
    query = _filtered(
        log, model.select(model, User).join(User, JOIN.LEFT_OUTER, on=(model.actor == User.id)), filters
    )
    if before_id and 0 < before_id <= MAX_ID:
        query = query.where(model.id < before_id)
    rows = list(query.order_by(model.id.desc()).limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    return rows[:PAGE_SIZE], (rows[PAGE_SIZE - 1].id if more else None)


def log_count(log: str, filters: LogFilter) -> int:
    """How many entries the log page holds with these filters, over all its pages."""
    model = LOGS[log]
    return _filtered(log, model.select(), filters).count()


def _filtered(log: str, query, filters: LogFilter):
    model = LOGS[log]
    if log == "alerts":
        query = query.where(model.action.in_(alert_actions()))
    for condition in _conditions(model, filters):
        query = query.where(condition)
    return query


def _conditions(model, filters: LogFilter):
    if filters.user_id:
        yield model.actor == filters.user_id
    if filters.customer_id:
        yield model.customer == filters.customer_id
    if filters.action:
        yield model.action == filters.action
    if filters.date_from:
        yield model.at >= office_day_start(filters.date_from)
    if filters.date_to:
        yield model.at < office_day_start(filters.date_to + timedelta(days=1))


def actions(log: str) -> list[str]:
    """The actions a log holds, for the filter."""
    if log == "access":
        return list(ACCESS_ACTIONS)
    if log == "alerts":
        return alert_actions()
    return audit_actions()


def audit_actions() -> list[str]:
    """Distinct audit actions, by skipping along the action index (a few lookups, not a scan)."""
    table, column = AuditLog._meta.table_name, AuditLog.action.column_name
    sql = (
        f'WITH RECURSIVE seen(action) AS (SELECT MIN("{column}") FROM "{table}" '
        f'UNION ALL SELECT (SELECT MIN("{column}") FROM "{table}" WHERE "{column}" > seen.action) '
        "FROM seen WHERE seen.action IS NOT NULL) "
        "SELECT action FROM seen WHERE action IS NOT NULL"
    )
    return [row[0] for row in AuditLog._meta.database.execute_sql(sql).fetchall()]


def alert_actions() -> list[str]:
    """The kinds of alert the audit log holds."""
    return [action for action in audit_actions() if action.startswith(ALERT_PREFIX)]


def who_saw(customer: Customer, limit: int = WHO_SAW_ROWS) -> list[AccessLog]:
    """Who revealed this customer's phone or ID number, and when: newest first."""
    return list(
        AccessLog.select(AccessLog, User)
        .join(User, on=(AccessLog.actor == User.id))
        .where(AccessLog.customer == customer)
        .order_by(AccessLog.id.desc())
        .limit(limit)
    )
