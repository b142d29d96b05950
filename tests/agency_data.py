"""Agencies, brokers, 报备 and deals written straight into the database, for the tests of the
agency report, the 佣金确认 list, the client page's 报备 panel and the dispute evidence."""

from datetime import date, datetime, timedelta

from villa.crypto import blind_index
from villa.models import Agency, Broker, Deal, Report

_phones = iter(range(10_000_000))


def make_agency(name, **fields) -> Agency:
    return Agency.create(name=name, **fields)


def make_broker(agency, name, **fields) -> Broker:
    phone = fields.pop("phone", f"+86137{next(_phones):08d}")
    return Broker.create(
        agency=agency, name=name, phone=phone, phone_index=blind_index("phone", phone), **fields
    )


def make_report(broker, by, reported_at: datetime, customer=None, confirmed_by=None, status=None, **fields):
    """A 报备 of the broker at `reported_at` (UTC); with a customer and confirmed_by it is confirmed
    two hours later."""
    confirmed = customer is not None and confirmed_by is not None
    name = customer.name if customer is not None else fields.pop("customer_name", "钱多多")
    return Report.create(
        broker=broker,
        agency=fields.pop("agency", broker.agency_id),
        customer_name=name,
        surname=name[:1],
        phone_mask=fields.pop("phone_mask", "138****8000"),
        expected_visit=reported_at.date() + timedelta(days=1),
        reported_at=reported_at,
        valid_until=reported_at + timedelta(days=3),
        status=status or ("confirmed" if confirmed else "open"),
        confirmed_at=fields.pop("confirmed_at", reported_at + timedelta(hours=2) if confirmed else None),
        confirmed_by=confirmed_by if confirmed else None,
        customer=customer if confirmed else None,
        created_by=fields.pop("created_by", by),
        **fields,
    )


def make_deal(customer, stage, price, status="confirmed", deal_date=date(2026, 11, 20), **fields) -> Deal:
    return Deal.create(
        customer=customer,
        stage=stage,
        unit_number=fields.pop("unit_number", f"A区{price % 97}号"),
        area=280,
        price=price,
        deal_date=deal_date,
        payment="full",
        status=status,
        stage_before="visited",
        rep=customer.owner_id,
        recorded_by=fields.pop("recorded_by", customer.owner_id),
        **fields,
    )
