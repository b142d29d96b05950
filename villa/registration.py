"""Registering a customer at the desk (首访登记), and recognising one who is already known (判客)."""

import json
import struct
from dataclasses import dataclass, field
from functools import partial

from peewee import JOIN, SQL, ForeignKeyField, IntegrityError

from villa import rotation
from villa.clock import office_day_start
from villa.crypto import KeyFileError, blind_index_pair, keyring
from villa.customers import (
    SHOWN_NAME_COLUMNS,
    can_see_full,
    customer_by_id,
    set_alt_phone,
    set_id_number,
    set_phone,
)
from villa.db import insert_one, write_transaction
from villa.identity import try_normalise_id_number, try_normalise_phone
from villa.labels import localdate
from villa.lookups import begin_lookup, exact_number
from villa.materials import record_handover
from villa.models import AuditLog, Channel, Customer, Report, Setting, User, Visit, now
from villa.notify import messages as staff_notifications
from villa.ownership import claim
from villa.prepared import Prepared, slot
from villa.protection import check_cap, first_protection, is_protected, renewed_protection
from villa.report_desk import broker_channel, confirm, report_values


class DuplicateCustomer(Exception):
    """The phone or ID number belongs to a customer already on record."""

    def __init__(self, known: "Match"):
        super().__init__(f"duplicate {known.matched}")
        # The whole record: the conflict page offers what can be done with it.
        self.existing = customer_by_id(known.customer.id) or known.customer
        self.matched = known.matched


@dataclass
class Registration:
    """What the desk typed, already validated by the form."""

    name: str
    phone: str
    gender: str
    visit_type: str
    channel: Channel
    owner: User
    alt_phone: str = ""
    id_type: str = "resident"
    id_number: str = ""
    sensitive_consent: bool = False
    via_rotation: bool = False
    out_of_turn: tuple | None = None  # (reason, note, the rep whose turn it was): villa.rotation
    details: dict = field(default_factory=dict)  # further Customer columns: needs, eligibility, notes
    material_ids: list = field(default_factory=list)
    report: Report | None = None  # the valid 报备 this registration confirms (villa.report_desk)


@dataclass
class Match:
    """A known customer found by phone or ID number, as the desk may see it."""

    customer: Customer
    matched: str

    @property
    def protected(self) -> bool:
        return is_protected(self.customer)


def _with_owner():
    # What the warning shows and what decides between main and alternate phone; a conflict on
    # registering loads the whole record (customer_by_id).
    return Customer.select(
        *SHOWN_NAME_COLUMNS,
        Customer.phone_index,
        Customer.protected_until,
        # And what decides how long the protection runs (villa.protection.is_protected).
        Customer.stage,
        Customer.owned_since,
        User.display_name.alias("owner_name"),
    ).join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id))


# Two index slots each: the current blind index and, while the index key is rotated, the previous
# one (the current one twice otherwise). These run on every keystroke at the desk.
_by_phone = Prepared(
    lambda: (
        _with_owner()
        .where(Customer.phone_index.in_([slot(), slot()]) | Customer.alt_phone_index.in_([slot(), slot()]))
        .order_by(Customer.id)
        .limit(SQL("3"))
    )
)
_by_id_number = Prepared(
    lambda: _with_owner().where(Customer.id_index.in_([slot(), slot()])).order_by(Customer.id).limit(SQL("1"))
)


def find_known(phone: str | None = None, id_number: str | None = None, id_type: str = "resident"):
    """The customer this phone (main or alternate) or ID number belongs to, or None."""
    normal_phone = try_normalise_phone(phone) if phone else None
    if normal_phone:
        indexes = blind_index_pair("phone", normal_phone)
        candidates = list(_by_phone.rows(*indexes, *indexes))
        if candidates:
            main = [c for c in candidates if c.phone_index in indexes]
            return Match((main or candidates)[0], "phone")
    normal_id = try_normalise_id_number(id_number, id_type) if id_number else None
    if normal_id:
        found = _by_id_number.first(*blind_index_pair("id", normal_id))
        if found:
            return Match(found, "id_number")
    return None


def check_known(user: User, phone: str = "", id_number: str = "", id_type: str = "resident", ip: str = ""):
    """The desk's duplicate check while typing: find_known, with each complete number a lookup
    (villa.lookups): refused beyond the user's limits, counted, and logged when it finds a customer
    the user may not see in full. Incomplete numbers (typing) are none of these.
    """
    numbers = [
        n for n in (exact_number(phone=phone), exact_number(id_number=id_number, id_type=id_type)) if n
    ]
    lookups = [begin_lookup(user, number) for number in numbers]
    match = find_known(phone, id_number, id_type) if numbers else None
    for lookup in lookups:
        found = [match.customer] if match and match.matched == lookup.number.field else []
        lookup.record(found, partial(can_see_full, user), ip)
    return match


def register(actor: User, entry: Registration) -> Customer:
    """Create the customer, its first visit and the ownership; the unique index decides races."""
    known = find_known(entry.phone, entry.id_number, entry.id_type) or find_known(entry.alt_phone)
    if known:
        raise DuplicateCustomer(known)
    if entry.report is not None:  # 确客: the channel, agency and broker come from the 报备
        entry.channel = broker_channel() or entry.channel
        entry.details = {**entry.details, **report_values(entry.report)}
    customer = _new_customer(actor, entry)
    try:
        with write_transaction():
            check_cap(entry.owner)
            customer.id = insert_one(Customer, _stored_values(customer))
            visit = Visit.create(
                customer=customer,
                kind=entry.visit_type,
                received_by=actor,
                rep=entry.owner,
                is_first=True,
                via_rotation=entry.via_rotation,
            )
            if entry.via_rotation:
                rotation.assign(entry.owner, actor)
            if entry.out_of_turn:
                rotation.record_skip(entry.owner, actor, *entry.out_of_turn, visit=visit)
            if entry.material_ids:
                record_handover(customer, entry.material_ids, actor)
            if entry.report is not None:
                confirm(entry.report, customer, actor)
            AuditLog.on_customer(
                customer, actor, "registered", {"owner": entry.owner.username, "channel": entry.channel.code}
            )
    except IntegrityError:
        # Another desk registered the same phone or ID a moment ago: theirs is the record.
        known = find_known(entry.phone, entry.id_number, entry.id_type)
        if known is None:
            raise
        raise DuplicateCustomer(known) from None
    return customer


def _new_customer(actor: User, entry: Registration) -> Customer:
    moment = now()
    customer = Customer(
        name=entry.name,
        gender=entry.gender,
        visit_type=entry.visit_type,
        channel=entry.channel,
        owner=entry.owner,
        registered_by=actor,
        registered_at=moment,
        owned_since=moment,
        protected_until=first_protection(entry.channel, entry.visit_type, moment),
        consent_at=moment,
        notice_version=Setting.read("privacy_notice_version", "1"),
        stage="visited" if entry.visit_type == "visit" else "registered",
        last_activity_at=moment,
        **entry.details,
    )
    set_phone(customer, entry.phone)
    set_alt_phone(customer, entry.alt_phone or None)
    if entry.id_number:
        set_id_number(customer, entry.id_type, entry.id_number)
    if entry.sensitive_consent:
        customer.sensitive_consent_at = moment
    return customer


def _stored_values(customer: Customer) -> dict:
    """Every field of the new customer but the id, as insert_one writes them (foreign keys by id)."""
    return {
        column.name: getattr(
            customer, column.object_id_name if isinstance(column, ForeignKeyField) else column.name
        )
        for column in Customer._meta.sorted_fields
        if column is not Customer._meta.primary_key
    }


def log_return_visit(customer: Customer, actor: User, kind: str = "visit", note: str = "") -> Visit:
    """A known customer came back: the visit goes to the owning rep's day; no rotation turn is used.
    For the owner it counts as a reached contact of its kind: it renews protection as a follow-up would."""
    with write_transaction():
        visit = Visit.create(customer=customer, kind=kind, received_by=actor, rep=customer.owner, note=note)
        if kind == "visit" and customer.stage == "registered":
            customer.stage = "visited"
        customer.last_activity_at = now()
        renewed = renewed_protection(customer, kind, visit.at)
        changes = {}
        if renewed is not None and renewed != customer.protected_until:
            changes["protected_until"] = [localdate(customer.protected_until), localdate(renewed)]
            customer.protected_until = renewed
        customer.save()
        AuditLog.on_customer(customer, actor, "return_visit", changes)
        staff_notifications.return_visit(visit, actor)
    return visit


def hand_out_from_pool(
    customer: Customer, rep: User, actor: User, kind: str, via_rotation: bool, out_of_turn: tuple | None
) -> Visit:
    """A customer from the public pool walked in (or called) and the desk gave them to `rep`, who
    becomes the owner: in turn through the rotation, or out of turn with the reason. One transaction."""
    with write_transaction():
        claim(customer, rep, kind, walked_in=True, handed_by=actor)
        visit = Visit.create(
            customer=customer, kind=kind, received_by=actor, rep=rep, via_rotation=via_rotation
        )
        if kind == "visit" and customer.stage == "registered":
            customer.stage = "visited"
            customer.save(only=[Customer.stage])
            AuditLog.on_customer(customer, actor, "stage_changed", {"stage": ["registered", "visited"]})
        if via_rotation:
            rotation.assign(rep, actor)
        if out_of_turn:
            rotation.record_skip(rep, actor, *out_of_turn, visit=visit)
        staff_notifications.return_visit(visit, actor)
    return visit


DESK_VISITS_LIMIT = 50  # today's visits and calls on the desk page, newest first, a page at a time


@dataclass
class DeskVisits:
    """One page of today's visits and calls, newest first, of `total` today."""

    visits: list
    total: int
    page: int  # from 1
    pages: int

    @property
    def first(self) -> int:
        """The position of the page's first row among today's visits, from 1."""
        return (self.page - 1) * DESK_VISITS_LIMIT + 1


def todays_desk_visits(page: int = 1) -> DeskVisits:
    """The desk's 今日来访与来电: today's visits and calls, newest first, DESK_VISITS_LIMIT a page,
    with the customer, who received them and the rep, in one query. The customer carries what
    can_see_full reads (its registrar's role, its owner's manager), so names cost no more queries."""
    today = Visit.at >= office_day_start()
    total = Visit.select(Visit.id).where(today).count()
    pages = max(1, -(-total // DESK_VISITS_LIMIT))
    page = min(max(1, page), pages)
    receiver, rep, registrar, owner = User.alias(), User.alias(), User.alias(), User.alias()
    rows = (
        Visit.select(
            Visit.id,
            Visit.at,
            Visit.kind,
            Visit.is_first,
            Visit.rep,
            Visit.received_by,
            *SHOWN_NAME_COLUMNS,
            receiver.id,
            receiver.display_name,
            rep.id,
            rep.display_name,
            registrar.id,
            registrar.role,
            owner.id,
            owner.manager,
        )
        .join(Customer)
        .join(registrar, on=(Customer.registered_by == registrar.id))
        .switch(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .switch(Visit)
        .join(receiver, on=(Visit.received_by == receiver.id))
        .switch(Visit)
        .join(rep, JOIN.LEFT_OUTER, on=(Visit.rep == rep.id))
        .where(today)
        .order_by(Visit.at.desc(), Visit.id.desc())
        .offset((page - 1) * DESK_VISITS_LIMIT)
        .limit(DESK_VISITS_LIMIT)
    )
    return DeskVisits(list(rows), total, page, pages)


# 返回修改: the conflict page carries what the desk typed back to the form, sealed, so that the page
# never shows a full phone or ID number and only the same user can open it.
_DRAFT_CONTEXT = b"registration-draft:"


def seal_draft(values: list[tuple[str, str]], user: User) -> str:
    """The fields of a refused registration as one opaque text for a hidden form field."""
    plaintext = json.dumps(values, ensure_ascii=False)
    return keyring().encrypt(plaintext, _DRAFT_CONTEXT + str(user.id).encode()).hex()


def open_draft(sealed: str, user: User) -> list[tuple[str, str]] | None:
    """The fields sealed by seal_draft for this user, or None when it is not such a text."""
    try:
        values = json.loads(keyring().decrypt(bytes.fromhex(sealed), _DRAFT_CONTEXT + str(user.id).encode()))
    except (ValueError, KeyFileError, struct.error):
        return None
    return [(str(name), str(value)) for name, value in values]
