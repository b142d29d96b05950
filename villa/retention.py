"""Retention (PIPL): anonymising inactive unsigned customers, archiving signed ones, and erasure.

Anonymising keeps the record and what the office analyses (channel, needs, grade, stage, dates,
the follow-ups and visits as events) and removes everything that names or reaches the person.
A 报备 (a broker's pre-registration) loses the name and phone it holds with its customer's, or,
when the person never became a customer, once the retention period has passed since it expired.
"""

import json
from datetime import UTC, date, datetime, timedelta

from peewee import Value

from villa.db import forget_old_pages, is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import (
    OFFICE_TZ,
    AuditLog,
    ChangeRequest,
    CorrectionLink,
    Customer,
    Dispute,
    FollowUp,
    MergeLog,
    OutboxMessage,
    Report,
    Review,
    Setting,
    User,
    Visit,
    now,
)

BATCH = 500
DEFAULT_YEARS = 3
ARCHIVE_AFTER_DAYS = 90
SIGNED = "signed"
# Stored data, in the office's language like the channel names: what replaces free text.
REMOVED = "（已匿名）"
NAME_PREFIX = "已匿名#"
# The phone column is NOT NULL: one fixed placeholder. Its index gets a per-customer marker that
# no HMAC (64 hex digits) can equal, so the unique index holds and no search ever finds it.
PHONE_PLACEHOLDER = "anonymised"
INDEX_PREFIX = "anon:"
CLEARED_COLUMNS = (
    Customer.alt_phone,
    Customer.alt_phone_index,
    Customer.id_number,
    Customer.id_index,
    Customer.address,
    Customer.wechat,
    Customer.payment_method,
    Customer.asset_band,
    Customer.credit_notes,
)
# What staff type about the person, kept in clear on the customer row: emptied.
FREE_TEXT_COLUMNS = (
    Customer.notes,
    Customer.referrer_name,
    Customer.broker_agency,
    Customer.broker_name,
    Customer.competing_projects,
    Customer.lost_reason,
)
# What a 报备 holds of the person, as anonymising leaves it (the row stays for the agency report).
REPORT_CLEARED = {
    Report.customer_name: REMOVED,
    Report.surname: "",
    Report.phone: None,
    Report.phone_index: None,
    Report.phone_mask: "",
    Report.open_key: None,
}
# Keys of audit-log changes that may carry what someone typed about the person.
FREE_TEXT_KEYS = (
    "name",
    *(column.name for column in FREE_TEXT_COLUMNS),
    "reason",
    "decision_note",
    "note",
)


class ErasureRefused(Exception):
    """An erasure request that cannot be carried out as asked."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def retention_years() -> int:
    """The setting, never below one year: a slip to 0 must not empty the customer list."""
    try:
        return max(int(Setting.read("retention_years", DEFAULT_YEARS)), 1)
    except (TypeError, ValueError):
        return DEFAULT_YEARS


def retention_cutoff(moment: datetime | None = None) -> datetime:
    return (moment or now()) - timedelta(days=365 * retention_years())


def archive_cutoff(moment: datetime | None = None) -> datetime:
    return (moment or now()) - timedelta(days=ARCHIVE_AFTER_DAYS)


def past_retention(moment: datetime | None = None):
    """Unsigned customers with no activity for the retention period, not yet anonymised."""
    return Customer.select().where(
        Customer.last_activity_at < retention_cutoff(moment),
        Customer.stage != SIGNED,
        Customer.anonymised_at.is_null(),
    )


def due_for_archive(moment: datetime | None = None):
    """Signed customers with no activity for 90 days, not yet archived."""
    return Customer.select().where(
        Customer.last_activity_at < archive_cutoff(moment),
        Customer.stage == SIGNED,
        Customer.archived_at.is_null(),
        Customer.anonymised_at.is_null(),
    )


def lapsed_reports(moment: datetime | None = None):
    """报备 of people who never became customers, expired over the retention period ago, not yet
    anonymised. (A 报备 with a customer goes with the customer.)"""
    return Report.select().where(
        Report.customer.is_null(),
        Report.valid_until < retention_cutoff(moment),
        Report.anonymised_at.is_null(),
    )


def retention_report(moment: datetime | None = None) -> list[tuple[int, date, date, str]]:
    """(customer id, registered on, last activity on, stage) of who the real run would anonymise."""
    query = past_retention(moment).select(
        Customer.id, Customer.registered_at, Customer.last_activity_at, Customer.stage
    )
    return [
        (customer_id, _office_date(registered), _office_date(active), stage)
        for customer_id, registered, active, stage in query.order_by(Customer.id).tuples()
    ]


def run_retention(actor: User | None = None, apply: bool = False, moment: datetime | None = None):
    """The report; with `apply`, anonymise those customers too, a batch per transaction.

    A customer active again since the report was made is left alone and left out of the answer.
    """
    moment = moment or now()
    report = retention_report(moment)
    if not apply:
        return report
    done = set()
    for chunk in _chunks([row[0] for row in report]):
        with write_transaction():
            still = _locked_ids(past_retention(moment), chunk)
            _anonymise_rows(still, actor, "retention", moment)
        done.update(still)
    if done:
        forget_old_pages()
    return [row for row in report if row[0] in done]


def archive_signed(actor: User | None = None, apply: bool = False, moment: datetime | None = None):
    """Ids of the signed customers to archive (read-only from then on); with `apply`, archive them."""
    moment = moment or now()
    ids = [row[0] for row in due_for_archive(moment).select(Customer.id).order_by(Customer.id).tuples()]
    if not apply:
        return ids
    done = []
    for chunk in _chunks(ids):
        with write_transaction():
            still = _locked_ids(due_for_archive(moment), chunk)
            Customer.update(archived_at=moment).where(Customer.id.in_(still)).execute()
            _audit(still, actor, "archived", {"reason": "inactive_signed"}, moment)
        done += still
    return done


def anonymise_lapsed_reports(actor: User | None = None, apply: bool = False, moment: datetime | None = None):
    """Ids of the lapsed 报备 (lapsed_reports); with `apply`, their name and phone removed and one
    audit row saying how many. A lapsed 报备 stays lapsed: only an open one is ever confirmed."""
    moment = moment or now()
    ids = [row[0] for row in lapsed_reports(moment).select(Report.id).order_by(Report.id).tuples()]
    if apply and ids:
        for chunk in _chunks(ids):
            with write_transaction():
                _anonymise_reports(Report.id.in_(chunk), moment)
        AuditLog.create(
            at=moment,
            actor=actor.id if actor else None,
            action="reports_anonymised",
            target="reports",
            changes=json.dumps({"anonymised": len(ids), "reason": "retention"}),
        )
        forget_old_pages()
    return ids


def anonymise(customer: Customer, actor: User | None, reason: str) -> Customer:
    """Remove the customer's personal data now; `reason` goes to the audit log. Idempotent."""
    with write_transaction():
        pending = Customer.select().where(Customer.id == customer.id, Customer.anonymised_at.is_null())
        _anonymise_rows(_locked_ids(pending, [customer.id]), actor, reason, now())
    forget_old_pages()
    return Customer.get_by_id(customer.id)


def erasure_refusal(customer: Customer):
    """Why this customer's data cannot be erased now, or None."""
    if customer.anonymised_at:
        return _l("This customer is already anonymised.")
    if customer.stage == SIGNED:
        return _l(
            "This customer signed a contract. The law requires contracts and the records behind them "
            "to be kept for a retention period, so this record cannot be erased; it becomes read-only "
            "(archived) 90 days after the last activity."
        )
    return None


def erase(customer: Customer, actor: User, reason: str) -> Customer:
    """A PIPL erasure request: anonymise now, whatever the retention, unless a contract was signed."""
    reason = (reason or "").strip()
    refusal = erasure_refusal(customer) or (None if reason else _l("Give the reason for the erasure."))
    if refusal:
        raise ErasureRefused(refusal)
    return anonymise(customer, actor, f"erasure request: {reason}")


def _anonymise_rows(ids: list[int], actor: User | None, reason: str, moment: datetime):
    """Every table's personal data of these customers, in bulk; the caller holds the transaction."""
    if not ids:
        return
    mine = Customer.id.in_(ids)
    Customer.update(
        {
            Customer.name: Value(NAME_PREFIX).concat(Customer.id.cast("TEXT")),
            Customer.phone: PHONE_PLACEHOLDER,
            Customer.phone_index: Value(INDEX_PREFIX).concat(Customer.id.cast("TEXT")),
            Customer.phone_last4: "",
            **dict.fromkeys(CLEARED_COLUMNS, None),
            **dict.fromkeys(FREE_TEXT_COLUMNS, ""),
            # Nobody can reach them any more: keep them off every rep's list of calls to make.
            Customer.next_followup_on: None,
            Customer.anonymised_at: moment,
        }
    ).where(mine).execute()
    FollowUp.update(content=REMOVED, result="").where(FollowUp.customer.in_(ids)).execute()
    Visit.update(note="").where(Visit.customer.in_(ids)).execute()
    OutboxMessage.update(body=REMOVED).where(OutboxMessage.customer.in_(ids)).execute()
    Dispute.update(reason=REMOVED, decision_note="").where(Dispute.customer.in_(ids)).execute()
    kept = _listed_reasons()
    Review.update(reason=REMOVED).where(
        Review.customer.in_(ids), Review.reason != "", Review.reason.not_in(sorted(kept))
    ).execute()
    _anonymise_reports(Report.customer.in_(ids), moment)
    ChangeRequest.delete().where(ChangeRequest.customer.in_(ids)).execute()
    CorrectionLink.delete().where(CorrectionLink.customer.in_(ids)).execute()
    # A merge snapshot holds both records' old fields: after erasure there is nothing to undo to.
    MergeLog.update(snapshot=json.dumps({"anonymised": True})).where(
        MergeLog.survivor.in_(ids) | MergeLog.merged_id.in_(ids)
    ).execute()
    _scrub_audit(ids, kept)
    _audit(ids, actor, "anonymised", {"reason": reason}, moment)


def _scrub_audit(ids: list[int], kept: set[str]):
    """Earlier audit entries keep what happened but lose the values someone typed about the person."""
    rows = AuditLog.select(AuditLog.id, AuditLog.changes).where(
        AuditLog.customer.in_(ids), AuditLog.changes != "{}"
    )
    for row_id, text in rows.tuples():
        try:
            changes = json.loads(text or "{}")
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            AuditLog.update(changes="{}").where(AuditLog.id == row_id).execute()
            continue
        scrubbed = {key: _scrubbed(key, value, kept) for key, value in changes.items()}
        if scrubbed != changes:
            AuditLog.update(changes=json.dumps(scrubbed, ensure_ascii=False)).where(
                AuditLog.id == row_id
            ).execute()


def _scrubbed(key: str, value, kept: set[str]):
    if key not in FREE_TEXT_KEYS or value in (None, "", "changed"):
        return value
    if isinstance(value, str) and value in kept:
        return value
    # A field change [old, new] shows on the timeline as "changed", like personal fields always did.
    return "changed" if isinstance(value, list) else REMOVED


def _listed_reasons() -> set[str]:
    """Rejection reasons picked from the office's list say nothing about the person: kept for analysis."""
    listed = Setting.read("rejection_reasons", []) or []
    return {reason for reason in listed if isinstance(reason, str)}


def _audit(ids: list[int], actor: User | None, action: str, changes: dict, moment: datetime):
    body = json.dumps(changes, ensure_ascii=False)
    rows = [
        {
            "at": moment,
            "actor": actor.id if actor else None,
            "action": action,
            "customer": customer_id,
            "target": f"customer:{customer_id}",
            "changes": body,
        }
        for customer_id in ids
    ]
    # Small inserts: SQLite builds before 3.32 allow only 999 parameters in one statement.
    for start in range(0, len(rows), 100):
        AuditLog.insert_many(rows[start : start + 100]).execute()


def _anonymise_reports(which, moment: datetime):
    Report.update({**REPORT_CLEARED, Report.anonymised_at: moment}).where(
        which, Report.anonymised_at.is_null()
    ).execute()


def _locked_ids(query, ids: list[int]) -> list[int]:
    """Of these ids, those the query still selects, locked on PostgreSQL until the transaction ends."""
    query = query.select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id)
    if not is_sqlite():
        query = query.for_update()
    return [row[0] for row in query.tuples()]


def _chunks(ids: list[int]):
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _office_date(value: datetime | None) -> date | None:
    """The stored UTC moment as a day on the office's calendar."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(OFFICE_TZ).date()
