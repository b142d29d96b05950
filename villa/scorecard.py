"""Rep scorecards (考核): how well each rep registers, follows up and converts, in a date range.

What each figure counts (the period: office dates, both ends included):
- registrations and completeness: customers the rep owns now that were registered in the period,
  whoever typed them (the front desk registers walk-ins a rep then owns); completeness is the share
  of review.COMPLETENESS fields filled, over all of them;
- first- and second-review rejection rate: review decisions of that level made in the period on any
  customer the rep owns: rejected / decided;
- customers, signed, conversion (signed / customers) and days to the first follow-up: customers the
  rep owns now that were registered in the period (the front desk registers walk-ins a rep then
  owns); days are whole office days from registration to the customer's first follow-up by anyone,
  averaged over those that have one;
- follow-up timeliness: each follow-up the rep wrote with a next date (next_at) sets a due date. Due
  dates in the period that have passed (before today) count; one was done on time when the same
  customer's next follow-up (by anyone) was written on or before that office date, late when after,
  and is overdue while there is none. timeliness = on time / due. Only follow-ups written from
  DUE_LOOKAHEAD_DAYS before the period count: a next date set further ahead than that is not scored;
- disputes won and lost: disputes decided in the period; "to_claimant" is won by the claimant,
  "keep_owner" by the owner;
- deals: the rep's confirmed 认筹, 认购 and 签约 dated in the period (number and total price; a
  deal counts for the rep who owned the customer when it was recorded; cancelled ones do not
  count); visit→subscription and visit→signing: of the customers above (registered in the period,
  owned now) who reached 已到访, the share who reached 认购 or 签约, by the funnel's rule
  (villa.analytics: a lost customer counts at the stage they left).

Registrations, completeness, customers, signed, days to the first follow-up and the funnel's reach
are summed from daily_owner_registrations, review decisions from daily_reviews (by the customer's
owner now: an owner change moves its reviews there), timeliness from daily_followups_due: daily
summary tables kept by database triggers (migrations/0021_daily_summaries.py, whose completeness
checklist is FILLED_SQL's in SQL). A figure reads the rows of the reps asked for, one per office
day and stage (or level, or due and written day), whatever the number of customers; the summed
figures equal those counted from the rows (tests/test_daily_summaries.py). Disputes and deals are
counted from their own, few, rows.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from peewee import Case, fn

from villa.analytics import Period, deal_figures, rate, reach_by_owner
from villa.deals import confirmed_totals
from villa.models import (
    Customer,
    DailyFollowUpsDue,
    DailyOwnerRegistrations,
    DailyReviews,
    Deal,
    Dispute,
    User,
    office_today,
)
from villa.review import COMPLETENESS

DUE_LOOKAHEAD_DAYS = 92

# review.COMPLETENESS as SQL, field by field: what migration 0021's triggers count into
# daily_owner_registrations.fields_filled (the equality test compares both).
FILLED_SQL = {
    "name": Customer.name != "",
    "phone": Customer.phone_index.is_null(False) & (Customer.phone_index != ""),
    "channel": Customer.channel.is_null(False),
    "gender": Customer.gender.in_(("M", "F")),
    "age_band": Customer.age_band != "",
    "unit_type": Customer.unit_type != "",
    "area_band": Customer.area_band != "",
    "budget": Customer.budget != "",
    "purpose": Customer.purpose != "",
    "hukou_local": Customer.hukou_local.is_null(False),
    "social_insurance_months": Customer.social_insurance_months.is_null(False)
    | (Customer.hukou_local == True),  # noqa: E712
    "homes_owned": Customer.homes_owned.is_null(False),
}

# Sort keys of the ranking: (attribute, True when a higher value is better).
RANKING = {
    "registrations": ("registrations", True),
    "completeness": ("completeness", True),
    "first_rejection": ("first_rejection", False),
    "second_rejection": ("second_rejection", False),
    "timeliness": ("timeliness", True),
    "overdue": ("overdue", False),
    "days_to_first": ("days_to_first", False),
    "conversion": ("conversion", True),
    "disputes_won": ("disputes_won", True),
    "disputes_lost": ("disputes_lost", False),
    "visit_to_subscription": ("visit_to_subscription", True),
    "visit_to_signing": ("visit_to_signing", True),
}
DEFAULT_SORT = "registrations"


@dataclass
class Score:
    rep: User
    registrations: int = 0
    fields_filled: int = 0
    reviews: dict = field(default_factory=lambda: {1: [0, 0], 2: [0, 0]})  # level: [rejected, decided]
    due: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    customers: int = 0
    signed: int = 0
    followed_up: int = 0  # customers with a follow-up, for the average below
    days_to_first_total: float = 0
    disputes_won: int = 0
    disputes_lost: int = 0
    deal_figures: dict = field(default_factory=dict)  # villa.analytics.deal_figures of the rep

    def deal(self, name: str):
        return self.deal_figures.get(name, 0)

    @property
    def visit_to_subscription(self):
        return self.deal_figures.get("visit_to_subscription")

    @property
    def visit_to_signing(self):
        return self.deal_figures.get("visit_to_signing")

    @property
    def completeness(self):
        return rate(self.fields_filled, self.registrations * len(COMPLETENESS))

    @property
    def first_rejection(self):
        return rate(*self.reviews[1])

    @property
    def second_rejection(self):
        return rate(*self.reviews[2])

    @property
    def timeliness(self):
        return rate(self.on_time, self.due)

    @property
    def days_to_first(self):
        return rate(self.days_to_first_total, self.followed_up)

    @property
    def conversion(self):
        return rate(self.signed, self.customers)


def reps_for(user: User):
    """The reps whose cards this user may open: an admin all, a manager their team and unmanaged reps."""
    query = User.select().where(User.role == "rep").order_by(User.display_name, User.id)
    if user.role == "admin":
        return query
    if user.role == "manager":
        return query.where(User.manager.is_null() | (User.manager == user.id))
    return query.where(User.id == user.id)


def may_open_card(user: User, rep: User) -> bool:
    from villa.customers import manages

    if user.role == "admin":
        return True
    if user.role == "manager":
        return manages(user, rep)
    return user.role == "rep" and user.id == rep.id


def scores(period: Period, reps) -> list[Score]:
    by_id = {rep.id: Score(rep) for rep in reps}
    if by_id:
        for figures in (_customers, _reviews, _timeliness, _disputes, _deals):
            figures(period, by_id)
    return list(by_id.values())


def ranked(results: list[Score], sort: str) -> list[Score]:
    """Best first by the chosen figure; reps without that figure (no data) last."""
    attribute, higher_better = RANKING.get(sort, RANKING[DEFAULT_SORT])
    known = [s for s in results if getattr(s, attribute) is not None]
    unknown = [s for s in results if getattr(s, attribute) is None]
    known.sort(key=lambda s: getattr(s, attribute), reverse=higher_better)
    return known + unknown


def filled_fields():
    """How many of the completeness checklist's fields a customer row has filled, as SQL."""
    return sum(Case(None, [(condition, 1)], 0) for condition in FILLED_SQL.values())


def _customers(period, by_id):
    """Registrations and completeness, customers, signed and days to the first follow-up."""
    summary = DailyOwnerRegistrations
    signed = Case(None, [(summary.stage == "signed", summary.customers)], 0)
    rows = (
        summary.select(
            summary.owner_id,
            fn.SUM(summary.customers),
            fn.SUM(summary.fields_filled),
            fn.SUM(signed),
            fn.SUM(summary.followed_up),
            fn.SUM(summary.days_to_first),
        )
        .where(summary.owner_id.in_(list(by_id)), summary.day.between(period.start, period.end))
        .group_by(summary.owner_id)
        .tuples()
    )
    for rep_id, count, filled, signed_count, followed_up, days in rows:
        if not count:
            continue
        score = by_id[rep_id]
        score.registrations, score.fields_filled = count, int(filled or 0)
        score.customers, score.signed = count, int(signed_count or 0)
        score.followed_up, score.days_to_first_total = int(followed_up or 0), float(days or 0)


def _reviews(period, by_id):
    summary = DailyReviews
    rows = (
        summary.select(summary.owner_id, summary.level, summary.decision, fn.SUM(summary.reviews))
        .where(
            summary.owner_id.in_(list(by_id)),
            summary.day.between(period.start, period.end),
            summary.level.in_((1, 2)),
        )
        .group_by(summary.owner_id, summary.level, summary.decision)
        .tuples()
    )
    for rep_id, level, decision, count in rows:
        tally = by_id[rep_id].reviews[level]
        tally[1] += count
        if decision == "rejected":
            tally[0] += count


def _timeliness(period, by_id):
    last_due_day = min(period.end, office_today() - timedelta(days=1))
    if last_due_day < period.start:
        return
    summary = DailyFollowUpsDue
    rows = (
        summary.select(summary.author_id, fn.SUM(summary.due), fn.SUM(summary.on_time), fn.SUM(summary.done))
        .where(
            summary.author_id.in_(list(by_id)),
            summary.due_on.between(period.start, last_due_day),
            summary.written_on.between(period.start - timedelta(days=DUE_LOOKAHEAD_DAYS), last_due_day),
        )
        .group_by(summary.author_id)
        .tuples()
    )
    for rep_id, due, in_time, with_contact in rows:
        if not due:
            continue
        score = by_id[rep_id]
        score.due, score.on_time = due, int(in_time or 0)
        score.late = with_contact - score.on_time
        score.overdue = due - with_contact


def _disputes(period, by_id):
    rows = (
        Dispute.select(Dispute.claimant, Dispute.owner, Dispute.decision, fn.COUNT(Dispute.id))
        .where(
            Dispute.status == "decided",
            period.covers(Dispute.decided_at),
            Dispute.claimant.in_(list(by_id)) | Dispute.owner.in_(list(by_id)),
        )
        .group_by(Dispute.claimant, Dispute.owner, Dispute.decision)
        .tuples()
    )
    for claimant_id, owner_id, decision, count in rows:
        winner, loser = (claimant_id, owner_id) if decision == "to_claimant" else (owner_id, claimant_id)
        if winner in by_id:
            by_id[winner].disputes_won += count
        if loser in by_id:
            by_id[loser].disputes_lost += count


def _deals(period, by_id):
    totals = confirmed_totals(period.start, period.end, Deal.rep)
    reached = reach_by_owner(period, list(by_id))
    for rep_id, score in by_id.items():
        score.deal_figures = deal_figures(score.rep, totals, reached, rep_id)
