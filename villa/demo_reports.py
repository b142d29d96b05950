"""The demo's agencies, brokers and 报备: two agencies, three brokers (周强 of 链家 signs in as
`broker1`), and 报备 in every state — open (待到访), confirmed (已确客), expired (已失效) and confirmed
with a deal (已成交). Confirmed ones are the broker-channel customers' own: reported the day
before they registered, confirmed at their registration by who registered them."""

from datetime import timedelta

from villa.broker_accounts import add_broker_account
from villa.clock import now
from villa.crypto import blind_index
from villa.identity import mask_phone
from villa.models import Agency, Broker, Channel, Customer, Deal, Report, User
from villa.report_input import ReportPhone, surname_of
from villa.reports import DEALT_STAGES, open_key, valid_until_for

AGENCIES = (("链家", 2026), ("中原地产", 2026))
# (agency, broker, phone): the first is the demo broker login's (DEMO_USERS), the others have none.
BROKERS = (("中原地产", "郑涛", "+8613700000302"), ("链家", "吴芳", "+8613700000303"))
BROKER_LOGIN_PHONE = "+8613700000301"
OPEN = (("钱多多", "+8613700000401", 0), ("孙丽", "+8613700000402", 1))  # (name, phone, days ago)
EXPIRED = (("冯建国", "+8613700000501", 12), ("蒋梅", "+8613700000502", 9))
CONFIRMED = 4  # broker-channel customers


def add_reports(users: dict[str, User]):
    """Call inside the demo's transaction, after the customers and their deals."""
    for name, year in AGENCIES:
        Agency.create(name=name, contract_start=f"{year}-01-01", contract_end=f"{year}-12-31")
    login = add_broker_account(users["broker1"], "链家")
    Broker.update(phone=BROKER_LOGIN_PHONE, phone_index=blind_index("phone", BROKER_LOGIN_PHONE)).where(
        Broker.id == login.id
    ).execute()
    brokers = [login]
    for agency, name, phone in BROKERS:
        brokers.append(
            Broker.create(
                agency=Agency.get(Agency.name == agency),
                name=name,
                phone=phone,
                phone_index=blind_index("phone", phone),
            )
        )
    desk = users["reception"]
    for n, customer in enumerate(_reported_customers()):
        _confirmed(brokers[n % len(brokers)], customer)
    moment = now()
    for n, (name, phone, days) in enumerate(OPEN):
        _report(brokers[n], desk, name, phone, moment - timedelta(days=days, hours=2), open_=True)
    for n, (name, phone, days) in enumerate(EXPIRED):
        _report(brokers[-1 - n], desk, name, phone, moment - timedelta(days=days), open_=False)


def _reported_customers() -> list[Customer]:
    """A customer at a confirmed 认购 or 签约 (已成交), and a few broker-channel customers (已确客)."""
    signed = (
        Customer.select()
        .join(Deal, on=(Deal.customer == Customer.id))
        .where(Deal.stage == Customer.stage, Deal.status == "confirmed", Customer.stage.in_(DEALT_STAGES))
        .order_by(Customer.id)
        .first()
    )
    broker_channel = (
        Customer.select()
        .where(Customer.channel.in_(_broker_channels()), Customer.stage.in_(("registered", "visited")))
        .order_by(Customer.id)
        .limit(CONFIRMED)
    )
    return [c for c in (signed, *broker_channel) if c is not None]


def _broker_channels():
    return Channel.select(Channel.id).where(Channel.kind == "broker")


def _confirmed(broker: Broker, customer: Customer):
    reported_at = customer.registered_at - timedelta(days=1)
    phone = customer.phone
    Report.create(
        broker=broker,
        agency=broker.agency_id,
        customer_name=customer.name,
        surname=surname_of(customer.name),
        phone=phone,
        phone_index=customer.phone_index,
        phone_mask=mask_phone(phone),
        expected_visit=(customer.registered_at + timedelta(hours=8)).date(),
        reported_at=reported_at,
        valid_until=valid_until_for(reported_at),
        status="confirmed",
        confirmed_at=customer.registered_at,
        confirmed_by=customer.registered_by_id,
        customer=customer.id,
        created_by=broker.user_id or customer.registered_by_id,
    )
    Customer.update(broker_agency=broker.agency.name, broker_name=broker.name).where(
        Customer.id == customer.id
    ).execute()


def _report(broker: Broker, staff: User, name: str, phone: str, reported_at, open_: bool):
    reported = ReportPhone(mask_phone(phone), phone)
    Report.create(
        broker=broker,
        agency=broker.agency_id,
        customer_name=name,
        surname=surname_of(name),
        phone=phone,
        phone_index=blind_index("phone", phone),
        phone_mask=reported.mask,
        expected_visit=(reported_at + timedelta(hours=8, days=1)).date(),
        reported_at=reported_at,
        valid_until=valid_until_for(reported_at),
        status="open" if open_ else "expired",
        open_key=open_key(reported, surname_of(name)) if open_ else None,
        created_by=broker.user_id or staff.id,
    )
