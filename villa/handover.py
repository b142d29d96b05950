"""Handing customers over (离职交接): when a rep leaves, and when a manager moves a selection.

Customers go to one rep, spread evenly over a team, or to the public pool, all in one transaction:
each customer gets its timeline entry, the whole move one summary row in the audit log. Nothing is
half-written: a failure anywhere leaves every customer where it was (and the rep still enabled).
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN

from villa.customers import can_write, manages
from villa.db import is_sqlite, write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, Channel, Customer, User, now
from villa.ownership import protection_end
from villa.protection import OwnershipError, check_cap_after_move, lock_cap, protected_count
from villa.users import UserProblem, set_active

DESTINATIONS = ("rep", "team", "pool")
CHUNK = 200  # customers per statement: well under any database's bound-parameter limit
REASON_MAX = 300


class HandoverRefused(ValueError):
    """The move cannot be made; `field` names the form field the message belongs next to."""

    def __init__(self, message, field: str = "destination"):
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass
class Moved:
    """What a handover did: how many customers went to whom (None: the public pool)."""

    count: int = 0
    by_rep: dict = field(default_factory=dict)  # username or None -> count


def live_customers(rep: User):
    """The customers a rep owns that can still be worked: not archived, not anonymised."""
    return Customer.select().where(
        Customer.owner == rep.id, Customer.archived_at.is_null(), Customer.anonymised_at.is_null()
    )


def customer_count(rep: User) -> int:
    return live_customers(rep).count()


def team_of(rep: User) -> list[User]:
    """The active reps of the leaving rep's team (its manager's reps; without a manager, the reps
    who have none), the rep left out."""
    same_team = User.manager.is_null() if rep.manager_id is None else User.manager == rep.manager_id
    query = User.select().where(User.role == "rep", User.active == True, same_team, User.id != rep.id)  # noqa: E712
    return list(query.order_by(User.username))


def managers_team(manager: User) -> list[User]:
    """The manager's own active reps."""
    query = User.select().where(User.role == "rep", User.active == True, User.manager == manager.id)  # noqa: E712
    return list(query.order_by(User.username))


def rep_leaves(rep: User, admin: User | None, destination: str, to_rep: User | None = None) -> Moved:
    """Disable a rep and hand their customers over, in one transaction: an admin's act, or the
    operator's (admin None) at the command line."""
    if rep.role != "rep":
        raise HandoverRefused(_l("Only a sales rep's customers are handed over."))
    with write_transaction():
        ids = [c.id for c in _locked(live_customers(rep).select(Customer.id))]
        targets = _targets(destination, to_rep, team_of(rep), leaving=rep) if ids else []
        moved = _move(ids, admin, targets, "handed_over", {})
        try:
            set_active(rep, False, admin)
        except UserProblem as problem:
            raise HandoverRefused(problem.message) from None
        if ids:
            _summary(admin, f"user:{rep.id}", destination, moved, {"from": rep.username})
    return moved


def transfer(manager: User, customer_ids: list, destination: str, to_rep: User | None, reason: str) -> Moved:
    """A manager moves a selection of customers they manage; refused whole when any is not theirs."""
    reason = (reason or "").strip()
    ids = sorted(set(customer_ids))
    if not ids:
        raise HandoverRefused(_l("Tick the customers to move first."), "ids")
    if not reason:
        raise HandoverRefused(_l("Give the reason for the move."), "reason")
    if len(reason) > REASON_MAX:
        raise HandoverRefused(_l("Keep the reason under %(max)d characters.", max=REASON_MAX), "reason")
    with write_transaction():
        found = list(_locked(_with_owners(ids)))
        refused = len(ids) - sum(1 for c in found if manager.role == "manager" and can_write(manager, c))
        if refused:
            raise HandoverRefused(
                _l(
                    "%(count)d of the ticked customers are not yours to manage: nothing was moved.",
                    count=refused,
                ),
                "ids",
            )
        targets = _targets(destination, to_rep, managers_team(manager), manager=manager)
        moved = _move(ids, manager, targets, "transferred", {"reason": reason})
        _summary(manager, "customers", destination, moved, {"reason": reason})
    return moved


def _with_owners(ids: list[int]):
    owners = Customer.select(Customer, User).join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id))
    return owners.where(Customer.id.in_(ids))


def _locked(query):
    """Locked on PostgreSQL until the transaction ends: a claim or a follow-up waits for the move."""
    return query if is_sqlite() else query.for_update(of=Customer)


def _targets(destination: str, to_rep: User | None, team: list[User], leaving=None, manager=None) -> list:
    """The reps customers go to in turn; [None] for the public pool."""
    if destination == "pool":
        return [None]
    if destination == "team":
        if not team:
            raise HandoverRefused(_l("The team has no other active sales rep: choose one rep or the pool."))
        return team
    if destination != "rep":
        raise HandoverRefused(_l("Choose where the customers go."))
    if to_rep is None or to_rep.role != "rep" or not to_rep.active:
        raise HandoverRefused(_l("Choose an active sales rep."), "to_rep")
    if leaving is not None and to_rep.id == leaving.id:
        raise HandoverRefused(_l("Choose a rep who stays."), "to_rep")
    if manager is not None and not manages(manager, to_rep):
        raise HandoverRefused(_l("You do not manage that sales rep."), "to_rep")
    return [to_rep]


def _move(ids: list[int], actor: User, targets: list, action: str, details: dict) -> Moved:
    """Give the customers to the targets in turn (evenly), chunk by chunk; inside the transaction.
    A move that takes a rep past the cap of protected customers is refused whole (the transaction
    rolls back)."""
    moved, moment = Moved(), now()
    reps = [target for target in targets if target is not None]
    for rep in reps:
        lock_cap(rep)
    before = {rep.id: protected_count(rep) for rep in reps}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        turns = {cid: targets[(start + n) % len(targets)] for n, cid in enumerate(chunk)}
        _move_chunk(turns, actor, action, details, moment, moved)
    try:
        for rep in reps:
            check_cap_after_move(rep, before[rep.id])
    except OwnershipError as refused:
        raise HandoverRefused(refused.message, "to_rep" if len(targets) == 1 else "destination") from None
    return moved


def _move_chunk(turns: dict, actor: User, action: str, details: dict, moment, moved: Moved):
    rows = (
        Customer.select(Customer.id, Customer.visit_type, Customer.owner, Channel, User.id, User.username)
        .join(Channel)
        .switch(Customer)
        .join(User, JOIN.LEFT_OUTER, on=(Customer.owner == User.id))
        .where(Customer.id.in_(list(turns)))
    )
    groups, audit = defaultdict(list), []
    for customer in rows:
        target = turns[customer.id]
        if target is not None and customer.owner_id == target.id:
            continue  # already theirs
        previous = customer.owner.username if customer.owner_id else None
        end = protection_end(customer.channel, customer.visit_type, moment) if target else None
        groups[(target.id if target else None, end)].append(customer.id)
        entry = {"from": previous, "to": target.username if target else None, **details}
        audit.append(_timeline_row(customer.id, actor, action, entry, moment))
        name = target.username if target else None
        moved.by_rep[name] = moved.by_rep.get(name, 0) + 1
        moved.count += 1
    for (target_id, end), customer_ids in groups.items():
        if target_id is None:
            changes = {"owner": None, "in_public_pool": True, "pool_since": moment}
        else:
            changes = {"owner": target_id, "in_public_pool": False, "pool_since": None}
            changes["protected_until"] = end
            changes["owned_since"] = moment  # the longest protection counts from the handover
        Customer.update(claimed_at=None, updated_at=moment, **changes).where(
            Customer.id.in_(customer_ids)
        ).execute()
    for start in range(0, len(audit), 100):
        AuditLog.insert_many(audit[start : start + 100]).execute()


def _timeline_row(customer_id: int, actor: User, action: str, changes: dict, moment) -> dict:
    return {
        "at": moment,
        "actor": actor.id if actor else None,
        "action": action,
        "customer": customer_id,
        "target": f"customer:{customer_id}",
        "changes": json.dumps(changes, ensure_ascii=False),
    }


def _summary(actor: User, target: str, destination: str, moved: Moved, details: dict):
    # [username, count] pairs: a null username is the public pool.
    given = [[username, count] for username, count in moved.by_rep.items()]
    changes = {**details, "destination": destination, "count": moved.count, "given": given}
    AuditLog.create(
        actor=actor,
        action="customers_handed_over",
        target=target,
        changes=json.dumps(changes, ensure_ascii=False),
    )
