"""Agencies (中介) and their brokers as the forms offer them, and a broker's login with its record."""

from villa.models import Agency, Broker, User, now


def active_agencies() -> list[Agency]:
    return list(Agency.select().where(Agency.active == True).order_by(Agency.name))  # noqa: E712


def active_brokers() -> list[Broker]:
    """Active brokers of active agencies, by agency and name (agency loaded with each)."""
    return list(
        Broker.select(Broker, Agency)
        .join(Agency)
        .where(Broker.active == True, Agency.active == True)  # noqa: E712
        .order_by(Agency.name, Broker.name)
    )


def add_broker_account(user: User, agency_name: str) -> Broker:
    """The Broker record of a new broker login, its agency created when new (in the caller's transaction)."""
    agency_name = (agency_name or "").strip()
    agency = Agency.get_or_none(Agency.name == agency_name) or Agency.create(
        name=agency_name, created_at=now()
    )
    return Broker.create(agency=agency, name=user.display_name, user=user, created_at=now())
