"""The demo's deals: every demo customer at 认筹, 认购 or 签约 has its deal, confirmed by the owner's
manager; one 签约 waits for the manager's confirmation and one 认筹 was cancelled (退筹).

Drawn from a random generator of their own, over the customers in id order: the same every run."""

import json
import random
from datetime import timedelta

from villa.clock import now, office_day_start, office_today
from villa.models import DEAL_STAGES, AuditLog, Customer, Deal, User

SEED = 2026 + 16
AREAS = {"独栋": 380, "双拼": 280, "联排": 220, "叠拼": 180}
PAYMENTS = ("mortgage", "mortgage", "full", "installment")
ZONES = "ABCD"


def add_deals(users: dict[str, User]):
    """Call inside the demo's transaction, after the customers are in."""
    rng = random.Random(SEED)
    managers = {u.id: u.manager_id or users["manager"].id for u in users.values() if u.role == "rep"}
    at_deal_stage = (
        Customer.select()
        .where(Customer.stage.in_(DEAL_STAGES), Customer.owner.is_null(False))
        .order_by(Customer.id)
    )
    for customer in at_deal_stage:
        _deal(rng, customer, customer.stage, managers[customer.owner_id])
    visited = Customer.select().where(Customer.stage == "visited", Customer.in_public_pool == False)  # noqa: E712
    waiting = visited.where(Customer.owner == users["rep"].id).order_by(Customer.id).first()
    if waiting:
        _deal(rng, waiting, "signed", None)
    withdrawn = visited.where(Customer.owner == users["rep2"].id).order_by(Customer.id).first()
    if withdrawn:
        deal = _deal(rng, withdrawn, "pledged", None)
        _cancel(deal, withdrawn, users["manager"], "客户资金暂未到位，退筹")


def _deal(rng: random.Random, customer: Customer, stage: str, confirmer_id: int | None) -> Deal:
    """A deal of the customer at `stage`; confirmed unless it is a 认购/签约 without a confirmer."""
    registered_on = (customer.registered_at + timedelta(hours=8)).date()
    span = max(0, (office_today() - registered_on).days - 1)
    day = registered_on + timedelta(days=rng.randint(min(span, 7), span)) if span else office_today()
    area = AREAS.get(customer.unit_type[:2], rng.choice(list(AREAS.values())))
    recorded_at = office_day_start(day) + timedelta(hours=rng.randint(10, 17), minutes=rng.randrange(60))
    recorded_at = min(recorded_at, now() - timedelta(hours=3))  # today's: earlier today
    pending = stage != "pledged" and confirmer_id is None
    confirmed_at = None if pending else recorded_at + timedelta(hours=0 if stage == "pledged" else 2)
    deal = Deal.create(
        customer=customer.id,
        stage=stage,
        unit_number=f"{rng.choice(ZONES)}区{rng.randint(1, 48)}号",
        area=area,
        price=area * rng.randrange(42_000, 62_000, 500),
        deal_date=day,
        payment=rng.choice(PAYMENTS),
        status="pending" if pending else "confirmed",
        stage_before="visited",
        rep=customer.owner_id,
        recorded_by=customer.owner_id,
        recorded_at=recorded_at,
        confirmed_by=confirmer_id if stage != "pledged" else None,
        confirmed_at=confirmed_at,
    )
    facts = {"id": deal.id, "stage": stage, "unit_number": deal.unit_number, "area": str(area)}
    facts.update(price=deal.price, deal_date=day.isoformat(), payment=deal.payment)
    moved = {"stage": ["visited", stage]}
    recorded = {"deal": facts, **(moved if stage == "pledged" else {})}
    _audit(customer, customer.owner_id, "deal_recorded", recorded, recorded_at)
    if confirmed_at and stage != "pledged":
        _audit(customer, confirmer_id, "deal_confirmed", {"deal": facts, **moved}, confirmed_at)
    return deal


def _cancel(deal: Deal, customer: Customer, manager: User, reason: str):
    moment = deal.recorded_at + timedelta(days=2)
    Deal.update(status="cancelled", cancelled_by=manager, cancelled_at=moment, cancel_reason=reason).where(
        Deal.id == deal.id
    ).execute()
    facts = {"id": deal.id, "stage": deal.stage, "unit_number": deal.unit_number, "price": deal.price}
    changes = {"deal": facts, "reason": reason, "stage": ["pledged", "visited"]}
    _audit(customer, manager.id, "deal_cancelled", changes, moment)


def _audit(customer: Customer, actor_id, action: str, changes: dict, at):
    AuditLog.create(
        at=at,
        actor=actor_id,
        action=action,
        customer=customer.id,
        target=f"customer:{customer.id}",
        changes=json.dumps(changes, ensure_ascii=False),
    )
