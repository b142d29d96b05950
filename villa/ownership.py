"""Who owns a customer: protection periods, the public pool, disputes (撞单)."""

import json
from datetime import timedelta

from peewee import JOIN, fn

from villa import settings
from villa.customers import SHOWN_NAME_COLUMNS
from villa.db import is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.labels import localdate
from villa.models import AuditLog, Channel, Customer, Dispute, Setting, User, now
from villa.notify import messages as staff_notifications

# The protection policy lives in villa.protection; these names are still imported from here.
from villa.protection import (  # noqa: F401
    RELEASABLE_STAGES,
    OwnershipError,
    check_cap,
    cooldown_end,
    first_protection,
    is_protected,
    protection_days,
    protection_end,
)


def _ownership_row(customer_id: int, actor: User | None, action: str, details: dict) -> dict:
    return {
        "at": now(),
        "actor": actor,
        "action": action,
        "customer": customer_id,
        "target": f"customer:{customer_id}",
        "changes": json.dumps(details, ensure_ascii=False),
    }


def record_ownership(customer: Customer, actor: User | None, action: str, **details):
    """Every ownership change goes to the audit log (and so onto the customer's timeline)."""
    AuditLog.insert(_ownership_row(customer.id, actor, action, details)).execute()


_CHUNK = 500  # ids per statement: well under any database's bound-parameter limit


def release_lapsed(moment=None, actor: User | None = None) -> list[int]:
    """Move every customer whose protection lapsed before `moment` to the public pool.

    Returns the ids released; running it again releases nothing more.
    """
    moment = moment or now()
    longest = moment - timedelta(days=settings.read("protection_max_days"))
    with write_transaction():
        lapsed = (
            Customer.select(Customer.id, User.username, Customer.protected_until)
            .join(User, on=(Customer.owner == User.id))
            .where(
                (Customer.protected_until < moment)
                | (fn.COALESCE(Customer.owned_since, Customer.registered_at) < longest),
                Customer.stage.in_(RELEASABLE_STAGES),
                Customer.in_public_pool == False,  # noqa: E712
                Customer.archived_at.is_null(),
                Customer.anonymised_at.is_null(),
            )
            .order_by(Customer.id)
        )
        if not is_sqlite():
            lapsed = lapsed.for_update(of=Customer)  # a follow-up extending protection waits for us
        released = list(lapsed.tuples())
        for start in range(0, len(released), _CHUNK):
            chunk = released[start : start + _CHUNK]
            Customer.update(
                previous_owner=Customer.owner,
                owner=None,
                in_public_pool=True,
                pool_since=moment,
                claimed_at=None,
                owned_since=None,
                updated_at=moment,
            ).where(Customer.id.in_([customer_id for customer_id, *_ in chunk])).execute()
            AuditLog.insert_many(
                [
                    _ownership_row(customer_id, actor, "released_to_pool", _released(username, until, moment))
                    for customer_id, username, until in chunk
                ]
            ).execute()
    return [customer_id for customer_id, *_ in released]


def _released(username: str, protected_until, moment) -> dict:
    """What the audit log says of a release; "longest_protection" when the period still ran."""
    if protected_until is not None and protected_until >= moment:
        return {"from": username, "why": "longest_protection"}
    return {"from": username}


def pool_quota() -> int:
    return int(Setting.read("pool_quota", 20))


def active_claims(rep: User) -> int:
    """Customers the rep took from the public pool and still holds: they count against the quota."""
    return Customer.select().where(Customer.owner == rep, Customer.claimed_at.is_null(False)).count()


def claim(
    customer: Customer,
    rep: User,
    visit_type: str | None = None,
    walked_in: bool = False,
    handed_by: User | None = None,
) -> Customer:
    """A rep takes a customer from the public pool, within the quota and the cap, and not while the
    cooldown of a customer they let lapse runs; of two reps racing, one wins. `handed_by`: the desk
    gave the walk-in to this rep through the rotation, which is no claim of theirs (no quota)."""
    moment = now()
    visit_type = visit_type or customer.visit_type
    changes = {
        "owner": rep.id,
        "in_public_pool": False,
        "pool_since": None,
        "claimed_at": None if handed_by else moment,
        "owned_since": moment,
        "protected_until": first_protection(customer.channel, visit_type, moment),
        "updated_at": moment,
    }
    if walked_in:
        changes["last_activity_at"] = moment
    with write_transaction():
        check_cap(rep)  # takes the rep's lock on PostgreSQL: the quota check below is serialised too
        quota = pool_quota()
        if not handed_by and active_claims(rep) >= quota:
            raise OwnershipError(
                _l(
                    "You already hold %(quota)d customers from the public pool, the most allowed.",
                    quota=quota,
                )
            )
        waits_until = cooldown_end(customer, rep)
        if waits_until:
            raise OwnershipError(
                _l(
                    "%(name)s let this customer go to the pool: they may take it back from %(date)s.",
                    name=rep.display_name,
                    date=localdate(waits_until),
                )
            )
        taken = (
            Customer.update(changes)
            .where(
                Customer.id == customer.id,
                Customer.in_public_pool == True,  # noqa: E712
                Customer.anonymised_at.is_null(),
            )
            .execute()
        )
        if not taken:
            raise OwnershipError(_l("This customer is no longer in the public pool."))
        if handed_by:
            record_ownership(customer, handed_by, "pool_handed_out", owner=rep.username)
        else:
            record_ownership(customer, rep, "pool_taken" if walked_in else "pool_claimed", owner=rep.username)
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.owner = rep
    return customer


def take_from_pool(customer: Customer, rep: User, visit_type: str) -> Customer:
    """A rep who registers a pool customer at the desk becomes the owner: a claim, quota and all."""
    return claim(customer, rep, visit_type, walked_in=True)


def reassignable_reps(manager: User) -> list[User]:
    """Active reps a manager may hand customers to: their team and reps with no manager (chosen by
    the database: a group has hundreds of reps, a team a few)."""
    return list(
        User.select()
        .where(
            User.role == "rep",
            User.active == True,  # noqa: E712
            User.manager.is_null() | (User.manager == manager.id),
        )
        .order_by(User.username)
    )


def reassign(customer: Customer, manager: User, new_owner: User | None, reason: str) -> Customer:
    """A manager gives the customer to another rep of theirs, with fresh protection."""
    from villa.customers import can_write, manages

    reason = (reason or "").strip()
    if manager.role != "manager" or not can_write(manager, customer):
        raise OwnershipError(_l("You do not manage this customer's owner."))
    if new_owner is None or new_owner.role != "rep" or not new_owner.active:
        raise OwnershipError(_l("Choose an active sales rep."))
    if not manages(manager, new_owner):
        raise OwnershipError(_l("You do not manage that sales rep."))
    if new_owner.id == customer.owner_id:
        raise OwnershipError(_l("This rep already owns the customer."))
    if not reason:
        raise OwnershipError(_l("Give the reason for the reassignment."))
    previous = customer.owner.username if customer.owner_id else None
    moment = now()
    with write_transaction():
        if customer.stage in RELEASABLE_STAGES:  # a deal in progress is held by no protection
            check_cap(new_owner)
        customer.owner = new_owner
        customer.in_public_pool, customer.pool_since, customer.claimed_at = False, None, None
        customer.owned_since = moment
        customer.protected_until = first_protection(customer.channel, customer.visit_type, moment)
        customer.updated_at = moment
        customer.save()
        record_ownership(
            customer, manager, "reassigned", **{"from": previous, "to": new_owner.username, "reason": reason}
        )
    return customer


def open_dispute(customer: Customer, claimant: User, reason: str) -> Dispute:
    """A second rep says the customer is theirs; one open dispute per rep and customer."""
    existing = Dispute.get_or_none(
        Dispute.customer == customer, Dispute.claimant == claimant, Dispute.status == "open"
    )
    if existing:
        return existing
    dispute = Dispute.create(
        customer=customer, claimant=claimant, owner=customer.owner, reason=reason.strip()
    )
    record_ownership(customer, claimant, "dispute_opened", dispute=dispute.id)
    return dispute


DECISIONS = ("keep_owner", "to_claimant")
SUPERSEDED = _l(
    "The customer changed owner after this dispute was opened: deciding it now would move the customer "
    "away from its new owner. Close it; the claimant can open a new dispute."
)


def touches(manager: User, dispute: Dispute) -> bool:
    """Is this dispute the manager's business: their rep claims, owned, or owns the customer now?"""
    from villa.customers import manages

    return (
        manages(manager, dispute.claimant)
        or manages(manager, dispute.owner)
        or may_decide(manager, dispute.customer)
    )


def may_decide(manager: User, customer: Customer) -> bool:
    """The manager of the customer's owner decides a dispute over it (any manager while it has no
    owner, or its owner no manager): never the claimant's manager alone."""
    from villa.customers import manages

    return manager.role == "manager" and (customer.owner_id is None or manages(manager, customer.owner))


def superseded(dispute: Dispute) -> bool:
    """An open dispute whose customer has changed owner since it was opened: it can no longer move it."""
    return dispute.status == "open" and dispute.customer.owner_id != dispute.owner_id


def disputes_of(rep: User):
    """The rep's disputes, as claimant or owner, newest first, for the rep's day: each with its
    claimant's name, its customer as shown_name reads it, and the customer's owner's name."""
    claimant, owner = User.alias(), User.alias()
    return (
        Dispute.select(
            Dispute.id,
            Dispute.status,
            Dispute.decision_note,
            Dispute.opened_at,
            claimant.id,
            claimant.display_name,
            *SHOWN_NAME_COLUMNS,
            owner.id,
            owner.display_name,
        )
        .join(claimant, on=(Dispute.claimant == claimant.id), attr="claimant")
        .switch(Dispute)
        .join(Customer)
        .join(owner, JOIN.LEFT_OUTER, on=(Customer.owner == owner.id), attr="owner")
        .where((Dispute.claimant == rep) | (Dispute.owner == rep))
        .order_by(Dispute.opened_at.desc())
    )


def disputes_for(manager: User, status: str = "open"):
    """Disputes of this status that are the manager's business (see touches)."""
    rows = (
        Dispute.select()
        .where(Dispute.status == status)
        .order_by(Dispute.opened_at.desc() if status != "open" else Dispute.opened_at)
    )
    return [d for d in rows if touches(manager, d)]


def decide_dispute(dispute: Dispute, manager: User, decision: str, note: str) -> Dispute:
    """Record the manager's decision; the customer moves to the claimant when they win."""
    if decision not in DECISIONS:
        raise OwnershipError(_l("Choose who keeps the customer."))
    with write_transaction():
        dispute, customer = _open_dispute_locked(dispute)
        if customer.owner_id != dispute.owner_id:
            raise OwnershipError(SUPERSEDED)
        if not may_decide(manager, customer):
            raise OwnershipError(_l("Only the manager of the customer's owner decides this dispute."))
        if decision == "to_claimant":
            customer.owner = dispute.claimant
            customer.in_public_pool, customer.owned_since = False, now()
            customer.protected_until = first_protection(customer.channel, customer.visit_type, now())
            customer.save()
        dispute.status, dispute.decision, dispute.decision_note = "decided", decision, note.strip()
        dispute.decided_by, dispute.decided_at = manager, now()
        dispute.save()
        record_ownership(
            customer,
            manager,
            "dispute_decided",
            dispute=dispute.id,
            decision=decision,
            owner=customer.owner.username,
        )
        staff_notifications.dispute_decided(dispute, customer)
    return dispute


def close_superseded(dispute: Dispute, manager: User) -> Dispute:
    """Close a dispute the owner change made out of date: nobody moves, and the log says why."""
    with write_transaction():
        dispute, customer = _open_dispute_locked(dispute)
        if customer.owner_id == dispute.owner_id:
            raise OwnershipError(_l("The customer still has the owner it had: decide the dispute instead."))
        dispute.status, dispute.decided_by, dispute.decided_at = "superseded", manager, now()
        dispute.save()
        owner = customer.owner.username if customer.owner_id else None
        record_ownership(customer, manager, "dispute_superseded", dispute=dispute.id, owner=owner)
    return dispute


def _open_dispute_locked(dispute: Dispute) -> tuple[Dispute, Customer]:
    """The dispute and its customer as stored now, locked on PostgreSQL; refused unless still open.
    Inside a write transaction, so an owner change cannot slip in between the check and the move."""
    disputes = Dispute.select().where(Dispute.id == dispute.id)
    fresh = (disputes if is_sqlite() else disputes.for_update()).get()
    if fresh.status != "open":
        raise OwnershipError(_l("This dispute has already been decided."))
    customers = Customer.select().where(Customer.id == fresh.customer_id)
    return fresh, (customers if is_sqlite() else customers.for_update()).get()


POOL_PAGE_SIZE = 25


def in_the_pool():
    """The customers the pool page lists (and the manager's home counts)."""
    return (Customer.in_public_pool == True) & Customer.anonymised_at.is_null()  # noqa: E712


def pool_page(before: tuple | None = None):
    """One page of the public pool, newest in it first; `before` is the (pool_since, id) cursor.

    Customers pooled before pool_since was kept (None) come last, by id.
    """
    query = (
        Customer.select(Customer, Channel)
        .join(Channel)
        .where(in_the_pool())
        .order_by(Customer.pool_since.desc(nulls="LAST"), Customer.id.desc())
    )
    if before:
        since, before_id = before
        if since is None:
            query = query.where(Customer.pool_since.is_null(), Customer.id < before_id)
        else:
            query = query.where(
                (Customer.pool_since < since)
                | ((Customer.pool_since == since) & (Customer.id < before_id))
                | Customer.pool_since.is_null()
            )
    rows = list(query.limit(POOL_PAGE_SIZE + 1))
    more = len(rows) > POOL_PAGE_SIZE
    last = rows[POOL_PAGE_SIZE - 1] if more else None
    return rows[:POOL_PAGE_SIZE], ((last.pool_since, last.id) if last else None)
