"""Agencies (中介) and their brokers as the forms offer them, and a broker's login with its record."""

from villa.i18n import lazy_gettext as _l
from villa.models import Agency, Broker, User, now

INACTIVE = _l("Your broker account is not active. Ask the sales office.")


def active_agencies() -> list[Agency]:
    return list(Agency.select().where(Agency.active == True).order_by(Agency.name))  # noqa: E712


def _active(*columns):
    """These columns of the active brokers of active agencies, by agency and name."""
    return (
        Broker.select(*columns)
        .join(Agency)
        .where(Broker.active == True, Agency.active == True)  # noqa: E712
        .order_by(Agency.name, Broker.name)
    )


def active_brokers() -> list[Broker]:
    """Active brokers of active agencies, by agency and name (agency loaded with each)."""
    return list(_active(Broker, Agency))


def broker_names() -> list[tuple[str, str]]:
    """(broker, agency) names of the active brokers of active agencies, by agency and name: what
    the desk's registration form offers as it types (no broker's phone, so nothing decrypted)."""
    return list(_active(Broker.name, Agency.name).tuples())


def add_broker_account(user: User, agency_name: str) -> Broker:
    """The Broker record of a new broker login, its agency created when new (in the caller's transaction)."""
    agency_name = (agency_name or "").strip()
    agency = Agency.get_or_none(Agency.name == agency_name) or Agency.create(
        name=agency_name, created_at=now()
    )
    return Broker.create(agency=agency, name=user.display_name, user=user, created_at=now())


def login_refusal(user: User):
    """Why this account may not log in although its password is right, or None: a broker whose record
    the office has deactivated (they left the agency). A deactivated agency's brokers still log in:
    their page says no 报备 are taken (villa.reports.broker_refusal) and keeps their earlier ones."""
    if user.role != "broker":
        return None
    record = Broker.of_user(user)  # None: a login with no broker record reports nothing anyway
    return INACTIVE if record is not None and not record.active else None
