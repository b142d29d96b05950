"""The protection policy (保护期): how long a rep keeps a customer, what renews it, the longest
protection, the cap of protected customers per rep and the cooldown before a rep takes back a
customer they let lapse. The numbers are office settings (settings → protection)."""

from datetime import timedelta

from villa import settings
from villa.db import db, is_sqlite
from villa.i18n import lazy_gettext as _l
from villa.models import Channel, Customer, Setting, User, now

# Only customers still in the protection game lapse: registered or visited. Once a deal is in
# progress (pledged, subscribed) or done (signed) the customer stays with the rep who made it,
# whatever the clock says; lost customers are kept too, as the rep's record of why.
RELEASABLE_STAGES = ("registered", "visited")
_PG_QUOTA_LOCK = 0x706F6F6C  # "pool": the advisory-lock namespace of per-rep claims


class OwnershipError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def protection_days(channel: Channel, visit_type: str) -> int:
    """The channel's own period, else the office default for a visit or a call."""
    if channel.protection_days:
        return channel.protection_days
    return int(Setting.read(f"protection_days_{visit_type}", 15 if visit_type == "visit" else 7))


def protection_end(channel: Channel, visit_type: str, start=None):
    return (start or now()) + timedelta(days=protection_days(channel, visit_type))


def is_protected(customer: Customer) -> bool:
    """Does the owner's protection still run: its period, within the longest protection?"""
    if not (customer.owner_id and customer.protected_until):
        return False
    most = max_protection_end(customer)
    return min(customer.protected_until, most or customer.protected_until) > now()


def max_protection_end(customer: Customer):
    """The most protection the current owner gets, counted from when they got the customer; after it
    only a deal stage (认筹 or later) keeps the customer. None while it does not apply."""
    if not customer.owner_id or customer.stage not in RELEASABLE_STAGES:
        return None
    since = customer.owned_since or customer.registered_at
    return since + timedelta(days=settings.read("protection_max_days"))


def within_maximum(customer: Customer, end):
    """`end`, or the maximum protection when that comes first."""
    most = max_protection_end(customer)
    return min(end, most) if most else end


def renewed_protection(customer: Customer, kind: str, moment=None):
    """Protection after a reached contact of this kind, as the office's policy says; None when the
    kind renews nothing. Never shorter than it was, never past the maximum."""
    moment = moment or now()
    rule = settings.read("protection_renewal").get(kind, "none")
    if rule == "none" or not customer.owner_id:
        return None
    if rule == "full":
        end = protection_end(customer.channel, customer.visit_type, moment)
    else:
        end = moment + timedelta(days=settings.read("protection_days_short"))
    return max(customer.protected_until or moment, within_maximum(customer, end))


def protected_count(rep: User, up_to: int | None = None) -> int:
    """Customers the rep holds under protection now: they count against the per-rep cap. With
    `up_to`, counting stops there (the cap check needs no more)."""
    query = Customer.select(Customer.id).where(
        Customer.owner == rep,
        Customer.stage.in_(RELEASABLE_STAGES),
        Customer.in_public_pool == False,  # noqa: E712
        Customer.protected_until > now(),
        Customer.anonymised_at.is_null(),
    )
    return (query.limit(up_to) if up_to is not None else query).count()


def lock_cap(rep: User):
    """Inside the write transaction, before counting: one rep's new customers take turns on
    PostgreSQL, so two desks (or a desk and a manager) cannot both pass the cap check."""
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_PG_QUOTA_LOCK, rep.id))


def check_cap(rep: User):
    """Refuse one more protected customer for a rep at the cap; call inside the write transaction."""
    lock_cap(rep)
    cap = settings.read("protected_customers_cap")
    if protected_count(rep, up_to=cap) >= cap:
        raise OwnershipError(
            _l(
                "%(name)s already holds %(cap)d protected customers, the most allowed: choose another rep, "
                "or let a customer go first.",
                name=rep.display_name,
                cap=cap,
            )
        )


def check_cap_after_move(rep: User, before: int):
    """After customers were moved to the rep, inside the write transaction (lock_cap taken before
    counting `before`): refuse the move when it took the rep past the cap. A rep already past it (the
    cap was lowered) may still receive what adds no protected customer."""
    cap = settings.read("protected_customers_cap")
    after = protected_count(rep)
    if after > cap and after > before:
        raise OwnershipError(
            _l(
                "%(name)s would hold %(count)d protected customers, more than the %(cap)d allowed: "
                "choose fewer customers, another rep or the public pool.",
                name=rep.display_name,
                count=after,
                cap=cap,
            )
        )


def cooldowns(customers, rep: User) -> dict:
    """{customer id: until when} for the customers of this list the rep let lapse and may not take
    back yet."""
    days = timedelta(days=settings.read("pool_cooldown_days"))
    return {
        c.id: c.pool_since + days
        for c in customers
        if c.previous_owner_id == rep.id and c.pool_since and c.pool_since + days > now()
    }


def cooldown_end(customer: Customer, rep: User):
    """Until when this rep may not take the customer back from the pool (they let it lapse), or None."""
    if customer.previous_owner_id != rep.id or not customer.pool_since:
        return None
    end = customer.pool_since + timedelta(days=settings.read("pool_cooldown_days"))
    return end if end > now() else None


def first_protection(channel: Channel, visit_type: str, moment):
    """Protection of a new owner from `moment`: the period, within the maximum."""
    most = moment + timedelta(days=settings.read("protection_max_days"))
    return min(protection_end(channel, visit_type, moment), most)
