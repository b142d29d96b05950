"""Each role's home page: the rep's day, and the few numbers and rows every other role looks at first."""

from datetime import timedelta

from villa.alerts import recent_alerts, unusual_activity
from villa.clock import now, office_day_start, office_today
from villa.customers import return_visits_waiting, with_people, with_shown_names
from villa.db import unindexed
from villa.deals import waiting_count
from villa.jobs import upkeep
from villa.models import AccessLog, Customer, Dispute, User
from villa.review import latest_rejections


def rep_day(rep: User, limit: int = 50) -> dict:
    """The rep's day: who to call today, who is overdue, whose protection is ending, what to fix.

    Every customer in it carries `shown_name`.
    """
    mine = Customer.select().where(Customer.owner == rep)
    # Read along a date's index and stop at `limit`, instead of sorting all of the rep's customers
    # (a rep may own hundreds of thousands).
    mine_by_date = Customer.select().where(unindexed(Customer.owner) == rep.id)
    today = office_today()
    to_fix = with_shown_names(
        rep,
        Customer.select()
        .where(
            Customer.review_status == "rejected",
            (Customer.owner == rep) | (Customer.registered_by == rep),
        )
        .order_by(Customer.id)
        .limit(limit),
    )
    return_visits = list(return_visits_waiting(rep).limit(20))
    disputes = list(
        Dispute.select(Dispute, Customer)
        .join(Customer)
        .where((Dispute.claimant == rep) | (Dispute.owner == rep))
        .order_by(Dispute.opened_at.desc())
        .limit(10)
    )
    with_shown_names(rep, [v.customer for v in return_visits] + [d.customer for d in disputes])
    return {
        "my_customers": mine.count(),
        "due_today": with_shown_names(
            rep, mine.where(Customer.next_followup_on == today).order_by(Customer.id).limit(limit)
        ),
        "overdue": with_shown_names(
            rep,
            mine_by_date.where(Customer.next_followup_on < today)
            .order_by(Customer.next_followup_on)
            .limit(limit),
        ),
        "protection_ending": with_shown_names(
            rep,
            mine_by_date.where(Customer.protected_until.between(now(), now() + timedelta(days=3)))
            .order_by(Customer.protected_until)
            .limit(limit),
        ),
        "to_fix": to_fix,
        "rejections": latest_rejections(to_fix),  # the latest reason, by customer id
        "return_visits": return_visits,
        "disputes": disputes,
        "recent": with_shown_names(rep, mine.order_by(Customer.id.desc()).limit(10)),
    }


def home_summary(user: User) -> dict:
    """The few numbers and rows each role looks at first; customers carry `shown_name`."""
    today_start = office_day_start()
    summary = {
        "registered_today": Customer.select().where(Customer.registered_at >= today_start).count(),
    }
    if user.role == "rep":
        summary.update(rep_day(user))
    elif user.role == "manager":
        summary["pending_first"] = Customer.select().where(Customer.review_status == "pending_first").count()
        summary["public_pool"] = Customer.select().where(Customer.in_public_pool == True).count()  # noqa: E712
        summary["open_disputes"] = Dispute.select().where(Dispute.status == "open").count()
        summary["deals_waiting"] = waiting_count(user)  # the length of /deals/, from its query
        latest = with_people().order_by(Customer.id.desc()).limit(10)
        summary["recent"] = with_shown_names(user, latest)
    elif user.role == "auditor":
        summary["pending_second"] = (
            Customer.select().where(Customer.review_status == "pending_second").count()
        )
        summary["reveals_today"] = (
            AccessLog.select().where(AccessLog.at >= today_start, AccessLog.action == "reveal").count()
        )
        summary["unusual_activity"] = unusual_activity()
        summary["alerts"] = recent_alerts(today_start)
    elif user.role == "admin":
        summary["users"] = User.select().where(User.active == True).count()  # noqa: E712
        summary["customers"] = Customer.select().count()
        summary["upkeep"] = upkeep()
    elif user.role == "reception":
        registered = with_people().where(Customer.registered_at >= today_start)
        summary["recent"] = with_shown_names(user, registered.order_by(Customer.id.desc()).limit(20))
    return summary
