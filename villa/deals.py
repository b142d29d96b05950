"""Deals (成交): each 认筹, 认购 and 签约 recorded with its unit, price and date, confirmed by the manager.

The rules:
- moving a customer to 认筹, 认购 or 签约 records a deal: unit number, area (㎡), total price (元),
  date and payment method; without them the move is refused, field by field;
- a 认筹 moves the stage at once; a 认购 or 签约 waits for the manager's confirmation (the owner's
  manager; for a rep without a manager, or a customer without an owner, any manager): until then the
  deal is "waiting for the manager" and the customer's stage stays where it was. A manager who may
  confirm it records it confirmed at once;
- while a deal waits, the customer's stage does not move otherwise;
- a deal can be cancelled (退筹/退房) with a reason. A waiting deal is withdrawn (by the rep) or refused
  (by the manager) and the stage stays; a confirmed one undoes the purchase: every open deal of the
  customer is cancelled and the stage goes back to 已到访. A rep cancels a 认筹 or a waiting deal; a
  confirmed 认购 or 签约 only the manager who may confirm it.
Every change is one transaction with its audit row (deal_recorded, deal_confirmed, deal_cancelled).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from peewee import JOIN, fn

from villa.customers import can_write, manages
from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import (
    DEAL_STAGES,
    PAYMENT_METHODS,
    AuditLog,
    Customer,
    Deal,
    User,
    now,
    office_today,
)
from villa.prepared import Prepared, slot
from villa.profile import next_stages

CONFIRMED_BY_MANAGER = ("subscribed", "signed")
DEAL_FIELDS = ("unit_number", "area", "price", "deal_date", "payment")
OPEN = ("pending", "confirmed")
BACK_TO = "visited"  # where a cancelled purchase leaves the customer
MAX_PRICE = 10**11  # 元: a typo, not a villa, beyond this
MAX_AREA = Decimal("100000")


class DealRefused(ValueError):
    """The deal was not recorded or changed; `errors` maps each form field to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(message) for message in errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class DealFacts:
    unit_number: str
    area: Decimal
    price: int
    deal_date: date
    payment: str


def needs_deal(stage: str) -> bool:
    return stage in DEAL_STAGES


def needs_confirmation(stage: str) -> bool:
    return stage in CONFIRMED_BY_MANAGER


def may_confirm(user: User, customer: Customer) -> bool:
    """The owner's manager; for a rep without a manager, or a customer nobody owns, any manager."""
    if user.role != "manager":
        return False
    return customer.owner_id is None or manages(user, customer.owner)


def may_cancel(user: User, deal: Deal) -> bool:
    if deal.status not in OPEN or not can_write(user, deal.customer):
        return False
    if deal.status == "pending" or deal.stage == "pledged":
        return True
    return may_confirm(user, deal.customer)


def waiting_deal(customer: Customer) -> Deal | None:
    return Deal.get_or_none(Deal.customer == customer.id, Deal.status == "pending")


def read_facts(values: Mapping) -> DealFacts:
    """The deal's facts from the form's text, or DealRefused with a message for each bad field."""
    errors, text = {}, {name: str(values.get(name) or "").strip() for name in DEAL_FIELDS}
    unit = text["unit_number"]
    if not unit:
        errors["unit_number"] = _l("Enter the unit number (房号).")
    elif len(unit) > 30:
        errors["unit_number"] = _l("Keep the unit number under 30 characters.")
    area = _area(text["area"])
    if area is None:
        errors["area"] = _l("Enter the area in square metres, e.g. 286.5.")
    price = _price(text["price"])
    if price is None:
        errors["price"] = _l("Enter the total price in yuan, e.g. 12800000 or 1280万.")
    deal_date = _date(text["deal_date"])
    if deal_date is None:
        errors["deal_date"] = _l("Enter the date of the deal.")
    elif deal_date > office_today():
        errors["deal_date"] = _l("The date of the deal cannot be in the future.")
    if text["payment"] not in PAYMENT_METHODS:
        errors["payment"] = _l("Choose how the customer pays.")
    if errors:
        raise DealRefused(errors)
    return DealFacts(unit, area, price, deal_date, text["payment"])


def _area(text: str) -> Decimal | None:
    try:
        area = Decimal(text.replace("㎡", "").replace(",", "").strip())
    except InvalidOperation:
        return None
    if not area.is_finite() or area <= 0 or area >= MAX_AREA:
        return None
    return area.quantize(Decimal("0.01"))


def _price(text: str) -> int | None:
    text = text.replace(",", "").replace("，", "").replace("元", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(万)?", text)
    if not match:
        return None
    amount = Decimal(match.group(1)) * (10_000 if match.group(2) else 1)
    if amount != amount.to_integral_value() or not 0 < amount < MAX_PRICE:
        return None
    return int(amount)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def record_deal(customer: Customer, actor: User, stage: str, values: Mapping) -> Deal:
    """Record the deal of a move to 认筹, 认购 or 签约; the stage moves now if nobody need confirm it."""
    if not needs_deal(stage):
        raise DealRefused({"stage": _l("Choose a stage from the list.")})
    if stage not in next_stages(customer):
        raise DealRefused({"stage": _l("A customer moves forward only; only a lost customer goes back.")})
    if waiting_deal(customer) is not None:
        raise DealRefused({"stage": _l("A deal of this customer is waiting for the manager's confirmation.")})
    facts = read_facts(values)
    confirmed = not needs_confirmation(stage) or may_confirm(actor, customer)
    moment = now()
    with write_transaction():
        deal = Deal.create(
            customer=customer.id,
            stage=stage,
            **facts.__dict__,
            status="confirmed" if confirmed else "pending",
            stage_before=customer.stage,
            rep=customer.owner_id,
            recorded_by=actor,
            recorded_at=moment,
            confirmed_by=actor if confirmed and needs_confirmation(stage) else None,
            confirmed_at=moment if confirmed else None,
        )
        changes = {"deal": _described(deal)}
        if confirmed:
            changes["stage"] = [customer.stage, stage]
            _move(customer, stage, moment)
        AuditLog.on_customer(customer, actor, "deal_recorded", changes, at=moment)
    return deal


def confirm_deal(deal: Deal, actor: User) -> Deal:
    """The manager confirms a waiting 认购 or 签约: the customer's stage moves to it."""
    customer = deal.customer
    if not may_confirm(actor, customer):
        raise DealRefused({"deal": _l("Only the owner's manager confirms this deal.")})
    if deal.stage not in next_stages(customer):
        raise DealRefused({"deal": _l("The customer has moved on since: cancel this deal instead.")})
    moment = now()
    with write_transaction():
        taken = (
            Deal.update(status="confirmed", confirmed_by=actor, confirmed_at=moment)
            .where(Deal.id == deal.id, Deal.status == "pending")
            .execute()
        )
        if not taken:
            raise DealRefused({"deal": _l("This deal is no longer waiting for confirmation.")})
        changes = {"deal": _described(deal), "stage": [customer.stage, deal.stage]}
        _move(customer, deal.stage, moment)
        AuditLog.on_customer(customer, actor, "deal_confirmed", changes, at=moment)
    deal.status, deal.confirmed_by, deal.confirmed_at = "confirmed", actor, moment
    return deal


def cancel_deal(deal: Deal, actor: User, reason: str) -> Deal:
    """退筹/退房: a waiting deal is withdrawn or refused; a confirmed one takes the customer back to
    已到访."""
    reason = (reason or "").strip()
    if not may_cancel(actor, deal):
        raise DealRefused({"deal": _l("You may not cancel this deal.")})
    if not reason:
        raise DealRefused({"reason": _l("Say why the deal is cancelled.")})
    if len(reason) > 200:
        raise DealRefused({"reason": _l("Keep the reason under 200 characters.")})
    customer, moment = deal.customer, now()
    was_confirmed = deal.status == "confirmed"
    cancelled = {
        "status": "cancelled",
        "cancelled_by": actor,
        "cancelled_at": moment,
        "cancel_reason": reason,
    }
    with write_transaction():
        # A confirmed deal ends the purchase: the customer's other open deals go with it.
        which = (Deal.customer == customer.id) if was_confirmed else (Deal.id == deal.id)
        taken = Deal.update(**cancelled).where(which, Deal.status.in_(OPEN)).execute()
        if not taken:
            raise DealRefused({"deal": _l("This deal is already cancelled.")})
        changes = {"deal": _described(deal), "reason": reason}
        if was_confirmed and customer.stage != BACK_TO:
            changes["stage"] = [customer.stage, BACK_TO]
            _move(customer, BACK_TO, moment)
        AuditLog.on_customer(customer, actor, "deal_cancelled", changes, at=moment)
    deal.status, deal.cancel_reason = "cancelled", reason
    return deal


def _move(customer: Customer, stage: str, moment):
    customer.stage, customer.lost_reason, customer.updated_at = stage, "", moment
    customer.save(only=[Customer.stage, Customer.lost_reason, Customer.updated_at])


def _described(deal: Deal) -> dict:
    """The deal as the audit row keeps it (codes; the timeline puts them in words)."""
    return {
        "id": deal.id,
        "stage": deal.stage,
        "unit_number": deal.unit_number,
        "area": str(deal.area),
        "price": deal.price,
        "deal_date": deal.deal_date.isoformat(),
        "payment": deal.payment,
    }


# On every client page: built once (peewee took 0.2 ms to write its 17 columns).
_deals_of = Prepared(lambda: Deal.select().where(Deal.customer == slot()).order_by(Deal.id.desc()))


def deals_of(customer: Customer) -> list[Deal]:
    """The customer's deals, newest first, with who recorded, confirmed and cancelled them.

    Most customers have none: that is one small query. The people are read once, by id and name."""
    rows = list(_deals_of.rows(customer.id))
    if not rows:
        return rows
    ids = {i for d in rows for i in (d.recorded_by_id, d.confirmed_by_id, d.cancelled_by_id) if i}
    people = {u.id: u for u in User.select(User.id, User.display_name).where(User.id.in_(ids))}
    for deal in rows:
        deal.customer = customer
        for field in ("recorded_by", "confirmed_by", "cancelled_by"):
            person = people.get(getattr(deal, f"{field}_id"))
            if person is not None:
                setattr(deal, field, person)
    return rows


def waiting_for(manager: User, limit: int = 200):
    """The 认购 and 签约 waiting for this manager's confirmation, oldest first (customer and owner joined)."""
    owner = User.alias()
    managed = User.select(User.id).where(User.manager.is_null() | (User.manager == manager.id))
    return (
        Deal.select(Deal, Customer, owner)
        .join(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id))
        .where(
            Deal.status == "pending",
            Customer.owner.is_null() | Customer.owner.in_(managed),
        )
        .order_by(Deal.id)
        .limit(limit)
    )


def waiting_count(manager: User) -> int:
    return waiting_for(manager, None).count()


def confirmed_totals(start: date, end: date, key) -> dict:
    """{(key value, stage): [deals, total price]} of the confirmed deals dated from start to end.

    `key` is Deal.rep (by rep) or Customer.channel (by channel). A cancelled deal does not count.
    """
    query = Deal.select(key, Deal.stage, fn.COUNT(Deal.id), fn.SUM(Deal.price)).where(
        Deal.status == "confirmed", Deal.deal_date.between(start, end)
    )
    if key.model is Customer:
        query = query.join(Customer, on=(Deal.customer == Customer.id))
    rows = query.group_by(key, Deal.stage).tuples()
    return {(value, stage): [count, int(total or 0)] for value, stage, count, total in rows}
