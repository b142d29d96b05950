"""Near-duplicate customers: finding them, merging two records into one, undoing a merge.

The unique blind indexes already refuse a second record with the same phone or ID number. What
slips through is the same person under another phone: one record's alternate phone is the
other's main phone, two records share an alternate phone, or the name and the phone's last digits
match. A merge keeps every follow-up, visit and log row of both; the absorbed record stays as an
anonymised tombstone, and the merge log holds what the undo needs.
"""

import json
import re
from collections import defaultdict
from datetime import date, datetime
from itertools import combinations
from typing import NamedTuple

from peewee import DateField, DateTimeField, IntegrityError, fn

from villa.customers import set_alt_phone, set_id_number, set_phone
from villa.db import is_sqlite, write_transaction
from villa.followups import refresh_followup_times
from villa.i18n import lazy_gettext as _l
from villa.identity import IdentityError, phone_last4
from villa.models import AuditLog, Customer, MergeLog, User, now
from villa.profile import EDITABLE
from villa.retention import PHONE_PLACEHOLDER

REASONS = {
    "alt_is_phone": _l("One record's alternate phone is the other's main phone"),
    "same_alt_phone": _l("Same alternate phone"),
    "name_phone_tail": _l("Same name and same last four digits of the phone"),
}
# What the admin picks side by side; "owner" brings the protection and pool state with it.
CHOOSABLE = (*EDITABLE, "grade", "stage", "channel", "owner")
OWNERSHIP = ("owner", "protected_until", "in_public_pool", "pool_since", "claimed_at")
SENSITIVE = ("id_number", "payment_method", "asset_band", "credit_notes")
# Kept by database triggers from the audit rows a merge moves (migration 0021): never written back.
DERIVED = ("lost_from",)
IDENTITY = (
    "phone",
    "phone_index",
    "phone_last4",
    "alt_phone",
    "alt_phone_index",
    "id_type",
    "id_number",
    "id_index",
)
_CHUNK = 500
TAKEN_ELSEWHERE = _l("A phone or ID number of these records now belongs to another customer.")


class MergeError(ValueError):
    """The merge or its undo is refused; the message says why, in the user's words."""


class Candidate(NamedTuple):
    a: Customer  # the older record: the likely survivor
    b: Customer
    reason: object


def scan(limit: int = 200) -> list[Candidate]:
    """Pairs of live records that are likely one person, the newest first, each pair once."""
    reasons: dict[tuple[int, int], str] = {}
    for rule, pairs in (
        ("alt_is_phone", _alt_is_phone()),
        ("same_alt_phone", _same_alt_phone()),
        ("name_phone_tail", _same_name_and_tail()),
    ):
        for x, y in pairs:
            if x != y:
                reasons.setdefault((min(x, y), max(x, y)), rule)
    ordered = sorted(reasons, key=lambda pair: (pair[1], pair[0]), reverse=True)[:limit]
    wanted = {i for pair in ordered for i in pair}
    found = {c.id: c for c in Customer.select().where(Customer.id.in_(list(wanted)))} if wanted else {}
    return [Candidate(found[a], found[b], REASONS[reasons[a, b]]) for a, b in ordered]


def _live(model=Customer):
    return model.anonymised_at.is_null()


def _alt_is_phone():
    # Starts from the (few) records with an alternate phone and probes the unique phone index.
    other = Customer.alias()
    return (
        Customer.select(Customer.id, other.id)
        .join(other, on=(Customer.alt_phone_index == other.phone_index))
        .where(Customer.alt_phone_index.is_null(False), _live(), _live(other))
        .tuples()
    )


def _same_alt_phone():
    shared = (
        Customer.select(Customer.alt_phone_index)
        .where(Customer.alt_phone_index.is_null(False), _live())
        .group_by(Customer.alt_phone_index)
        .having(fn.COUNT(Customer.id) > 1)
    )
    rows = Customer.select(Customer.id, Customer.alt_phone_index).where(
        Customer.alt_phone_index.in_(shared), _live()
    )
    return _pairs_within(rows.tuples())


def _same_name_and_tail():
    # Only records whose name another record shares are decrypted, never the whole table.
    names = (
        Customer.select(Customer.name)
        .where(_live())
        .group_by(Customer.name)
        .having(fn.COUNT(Customer.id) > 1)
    )
    rows = Customer.select(Customer.id, Customer.name, Customer.phone).where(
        Customer.name.in_(names), _live()
    )
    keyed = ((c.id, (c.name, re.sub(r"\D", "", c.phone or "")[-4:])) for c in rows.iterator())
    return _pairs_within((cid, key) for cid, key in keyed if len(key[1]) == 4)


def _pairs_within(rows):
    groups = defaultdict(list)
    for customer_id, key in rows:
        groups[key].append(customer_id)
    return [pair for ids in groups.values() for pair in combinations(sorted(ids), 2)]


# Merging


def merge(survivor: Customer, absorbed: Customer, choices: dict, actor: User) -> MergeLog:
    """Fold `absorbed` into `survivor`; `choices` maps a field to "survivor" or "absorbed"."""
    taken = _taken_fields(choices)
    if actor.role != "admin":
        raise MergeError(_l("Only an administrator merges customer records."))
    if survivor.id == absorbed.id:
        raise MergeError(_l("Choose two different customers."))
    try:
        return _merge(survivor.id, absorbed.id, choices, taken, actor)
    except IntegrityError:
        raise MergeError(TAKEN_ELSEWHERE) from None


def _merge(survivor_id: int, absorbed_id: int, choices: dict, taken: list[str], actor: User) -> MergeLog:
    with write_transaction():
        keep, gone = _locked(survivor_id), _locked(absorbed_id)
        if keep is None or gone is None:
            raise MergeError(_l("One of these customers no longer exists."))
        if keep.anonymised_at or gone.anonymised_at:
            raise MergeError(_l("An anonymised or already merged record cannot be merged."))
        snapshot = {"survivor": _record(keep), "absorbed": _record(gone), "choices": dict(choices)}
        _make_tombstone(gone)  # first: frees the unique phone index for the survivor
        _take_over(keep, snapshot["absorbed"], taken)
        moved = _move_rows(gone.id, keep.id)
        refresh_followup_times((keep.id, gone.id))  # the survivor's follow-ups now interleave
        _audit(actor, keep, "merged", {"from": gone.id, "fields": taken})
        _audit(actor, gone, "merged", {"into": keep.id})
        return MergeLog.create(
            survivor=keep,
            merged_id=gone.id,
            snapshot=json.dumps(snapshot, ensure_ascii=False),
            moved=json.dumps(moved),
            merged_by=actor,
        )


def _taken_fields(choices: dict) -> list[str]:
    unknown = set(choices) - set(CHOOSABLE)
    if unknown or any(side not in ("survivor", "absorbed") for side in choices.values()):
        raise MergeError(_l("Choose, for each field, the value of one of the two records."))
    return [name for name in CHOOSABLE if choices.get(name) == "absorbed"]


def _locked(customer_id: int) -> Customer | None:
    query = Customer.select().where(Customer.id == customer_id)
    return (query if is_sqlite() else query.for_update()).first()


def _record(customer: Customer) -> dict:
    """Every column's value (decrypted), as JSON can carry it."""
    values = {}
    for name in Customer._meta.fields:
        value = customer.__data__.get(name)
        if isinstance(value, (date, datetime)):
            value = value.isoformat()
        values[name] = value
    return values


def _decoded(record: dict) -> dict:
    values = {}
    for name, field in Customer._meta.fields.items():
        value = record.get(name)
        if value is not None and isinstance(field, DateTimeField):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(field, DateField):
            value = date.fromisoformat(value)
        values[name] = value
    return values


def _make_tombstone(customer: Customer):
    """No personal data left; the NOT NULL phone holds retention's placeholder, as anonymised records do."""
    Customer.update(
        {
            Customer.name: f"已合并#{customer.id}",
            Customer.phone: PHONE_PLACEHOLDER,
            Customer.phone_index: f"merged:{customer.id}",
            Customer.phone_last4: "",
            Customer.alt_phone: None,
            Customer.alt_phone_index: None,
            Customer.id_number: None,
            Customer.id_index: None,
            Customer.address: None,
            Customer.wechat: None,
            Customer.payment_method: None,
            Customer.asset_band: None,
            Customer.credit_notes: None,
            Customer.referrer_name: "",
            Customer.broker_name: "",
            Customer.notes: "",
            Customer.owner: None,
            Customer.protected_until: None,
            Customer.in_public_pool: False,
            Customer.next_followup_on: None,
            Customer.anonymised_at: now(),
            Customer.updated_at: now(),
        }
    ).where(Customer.id == customer.id).execute()


def _take_over(survivor: Customer, absorbed: dict, taken: list[str]):
    """Copy the chosen values of the absorbed record onto the survivor, and save it."""
    values = _decoded(absorbed)
    for name in taken:
        if name == "phone":
            set_phone(survivor, values["phone"])
        elif name == "alt_phone":
            set_alt_phone(survivor, values["alt_phone"])
        elif name == "id_number":
            set_id_number(survivor, values["id_type"], values["id_number"])
        elif name == "owner":
            for part in OWNERSHIP:
                setattr(survivor, part, values[part])
        else:
            setattr(survivor, name, values[name])
    if any(values[name] for name in taken if name in SENSITIVE) and not survivor.sensitive_consent_at:
        survivor.sensitive_consent_at = values["sensitive_consent_at"]
    survivor.last_activity_at = max(survivor.last_activity_at, values["last_activity_at"])
    due = [d for d in (survivor.next_followup_on, values["next_followup_on"]) if d]
    survivor.next_followup_on = min(due) if due else None
    survivor.updated_at = now()
    survivor.save()


def _referencing():
    """Every table that points at a customer (the merge log excepted), with its foreign key."""
    pairs = [(fk.model, fk) for fk in Customer._meta.backrefs if fk.model is not MergeLog]
    return sorted(pairs, key=lambda pair: pair[0]._meta.table_name)


def _move_rows(source_id: int, target_id: int) -> dict:
    moved = {}
    for model, fk in _referencing():
        rows = model.select(model.id).where(fk == source_id).order_by(model.id).tuples()
        ids = [row_id for (row_id,) in rows]
        _repoint(model, fk, ids, source_id, target_id)
        moved[model._meta.table_name] = ids
    return moved


def _repoint(model, fk, ids: list[int], source_id: int, target_id: int):
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        model.update({fk: target_id}).where(model.id.in_(chunk), fk == source_id).execute()


def _audit(actor: User, customer: Customer, action: str, changes: dict):
    AuditLog.on_customer(customer.id, actor, action, changes)


# Undoing


def undo(merge_log: MergeLog, actor: User) -> MergeLog:
    """Put both records back as they were and the moved rows back where they came from.

    Rows added to the survivor after the merge stay with it. Encrypted columns get fresh
    ciphertext (new nonces) of the same values; the blind indexes are computed again.
    """
    if actor.role != "admin":
        raise MergeError(_l("Only an administrator merges customer records."))
    try:
        log = _undo(merge_log.id, actor)
    except IntegrityError:
        raise MergeError(TAKEN_ELSEWHERE) from None
    merge_log.undone_at, merge_log.undone_by = log.undone_at, actor
    return log


def _undo(log_id: int, actor: User) -> MergeLog:
    with write_transaction():
        log = MergeLog.select().where(MergeLog.id == log_id)
        log = (log if is_sqlite() else log.for_update()).first()
        _check_undoable(log)
        snapshot = json.loads(log.snapshot)
        survivor_id, absorbed_id = log.survivor_id, log.merged_id
        # The survivor first: it may hold the absorbed record's phone, which must be free again.
        _restore(survivor_id, snapshot["survivor"])
        _restore(absorbed_id, snapshot["absorbed"])
        moved = json.loads(log.moved)
        for model, fk in _referencing():
            _repoint(model, fk, moved.get(model._meta.table_name, []), survivor_id, absorbed_id)
        # Worked out again, not restored: the survivor may have had follow-ups added since the merge.
        refresh_followup_times((survivor_id, absorbed_id))
        for customer_id, other in ((survivor_id, absorbed_id), (absorbed_id, survivor_id)):
            _audit(actor, Customer(id=customer_id), "merge_undone", {"merge": log.id, "other": other})
        log.undone_at, log.undone_by = now(), actor
        log.save(only=[MergeLog.undone_at, MergeLog.undone_by])
        return log


def _check_undoable(log: MergeLog | None):
    if log is None:
        raise MergeError(_l("This merge no longer exists."))
    if log.undone_at:
        raise MergeError(_l("This merge has already been undone."))
    involved = (log.survivor_id, log.merged_id)
    later = MergeLog.select().where(
        MergeLog.id > log.id,
        MergeLog.undone_at.is_null(),
        MergeLog.survivor.in_(involved) | MergeLog.merged_id.in_(involved),
    )
    if later.exists():
        raise MergeError(_l("A later merge involves these records: undo that one first."))
    if Customer.get_by_id(log.survivor_id).anonymised_at:
        raise MergeError(_l("The surviving record has been anonymised since; its data stays erased."))


def _restore(customer_id: int, record: dict):
    values = _decoded(record)
    customer = Customer.get_by_id(customer_id)
    for name, value in values.items():
        if name != "id" and name not in IDENTITY and name not in DERIVED:
            setattr(customer, name, value)
    _restore_identity(customer, values)
    if Customer.select().where(Customer.id != customer_id, _taken_by(customer)).exists():
        raise MergeError(TAKEN_ELSEWHERE)
    customer.save(only=[f for f in Customer._meta.sorted_fields if f.name != "id" and f.name not in DERIVED])


def _restore_identity(customer: Customer, values: dict):
    # Through the setters, so the indexes follow the current key; a stored legacy value the
    # setters would refuse goes back as it was, with the index it had.
    for setter, args, names in (
        (set_phone, (values["phone"],), ("phone", "phone_index")),
        (set_alt_phone, (values["alt_phone"],), ("alt_phone", "alt_phone_index")),
        (set_id_number, (values["id_type"], values["id_number"]), ("id_type", "id_number", "id_index")),
    ):
        try:
            setter(customer, *args)
        except IdentityError:
            for name in names:
                setattr(customer, name, values[name])
    customer.phone_last4 = phone_last4(customer.phone)


def _taken_by(customer: Customer):
    condition = Customer.phone_index == customer.phone_index
    if customer.id_index:
        condition |= Customer.id_index == customer.id_index
    return condition
