"""Words the office uses for codes, and the template filters that show values safely."""

from datetime import UTC, datetime
from decimal import Decimal

from flask import g

from villa import identity
from villa.i18n import lazy_gettext as _l
from villa.models import GRADES, OFFICE_TZ, Setting, now

ROLE_LABELS = {
    "reception": _l("Front desk"),
    "rep": _l("Sales rep"),
    "manager": _l("Sales manager"),
    "auditor": _l("Audit team"),
    "admin": _l("Administrator"),
    "broker": _l("Broker"),
}
STAGE_LABELS = {
    "registered": _l("Registered"),
    "visited": _l("Visited"),
    "pledged": _l("Pledged"),
    "subscribed": _l("Subscribed"),
    "signed": _l("Signed"),
    "lost": _l("Lost"),
}
REVIEW_LABELS = {
    "pending_first": _l("Waiting for manager review"),
    "pending_second": _l("Waiting for audit review"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected, to fix"),
}
VISIT_TYPE_LABELS = {"visit": _l("Walk-in visit"), "call": _l("Phone call")}
PURPOSE_LABELS = {
    "own_use": _l("To live in"),
    "investment": _l("Investment"),
    "vacation": _l("Holiday home"),
    "upgrade": _l("Upgrade"),
}
ID_TYPE_LABELS = {
    "resident": _l("Resident ID card"),
    "passport": _l("Passport"),
    "hk_macau": _l("HK/Macau permit"),
    "taiwan": _l("Taiwan permit"),
}
PAYMENT_LABELS = {
    "full": _l("Full payment"),
    "mortgage": _l("Mortgage"),
    "installment": _l("Instalments"),
    "other": _l("Other"),
}
DEAL_STATUS_LABELS = {
    "pending": _l("Waiting for the manager's confirmation"),
    "confirmed": _l("Confirmed"),
    "cancelled": _l("Cancelled"),
}
CHANNEL_KIND_LABELS = {
    "direct": _l("Direct (walk-in)"),
    "online": _l("Online"),
    "event": _l("Event"),
    "referral": _l("Referral"),
    "broker": _l("Broker or agency"),
}
GENDER_LABELS = {"M": _l("Male"), "F": _l("Female"), "U": _l("Not given")}
FOLLOWUP_KIND_LABELS = {
    "call": _l("Phone call"),
    "visit": _l("Visit"),
    "wechat": _l("WeChat"),
    "viewing": _l("Viewing"),
    "sms": _l("SMS"),
}


def _label(table):
    return lambda code: table.get(code, code)


def office_time(value: datetime) -> datetime:
    """A stored UTC timestamp as the office's clock shows it."""
    return value.replace(tzinfo=UTC).astimezone(OFFICE_TZ)


def localdate(value) -> str:
    if value is None:
        return ""
    return office_time(value).strftime("%Y-%m-%d") if isinstance(value, datetime) else value.isoformat()


def localtime(value) -> str:
    return office_time(value).strftime("%H:%M") if value else ""


def localdatetime(value) -> str:
    return office_time(value).strftime("%Y-%m-%d %H:%M") if value else ""


def yuan(value) -> str:
    """A sum of money in yuan as the office writes it: ¥12,800,000."""
    return "" if value is None else f"¥{int(value):,}"


def square_metres(value) -> str:
    """An area as the office writes it: 286.5㎡ (no trailing zeros, whatever the database returns)."""
    if value is None:
        return ""
    text = f"{Decimal(str(value)):f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "㎡"


def _privacy_notice_text() -> str:
    from villa.settings import read

    return read("privacy_notice_text")


def _keeps_head(kind: str) -> bool:
    """The office's masked form for this kind of number (villa.settings.masking), read once a request."""
    from villa.settings import masking

    if "masking" not in g:
        g.masking = masking()
    return g.masking[kind]


def init_app(app):
    app.jinja_env.globals.update(
        role_label=_label(ROLE_LABELS),
        stage_label=_label(STAGE_LABELS),
        review_label=_label(REVIEW_LABELS),
        visit_type_label=_label(VISIT_TYPE_LABELS),
        purpose_label=_label(PURPOSE_LABELS),
        id_type_label=_label(ID_TYPE_LABELS),
        gender_label=_label(GENDER_LABELS),
        followup_kind_label=_label(FOLLOWUP_KIND_LABELS),
        payment_label=_label(PAYMENT_LABELS),
        deal_status_label=_label(DEAL_STATUS_LABELS),
        now=now,
        grades=GRADES,
        stage_labels=STAGE_LABELS,
        notice_version=lambda: Setting.read("privacy_notice_version", "1"),
        privacy_notice_text=_privacy_notice_text,
    )
    app.jinja_env.filters.update(
        mask_name=identity.mask_name,
        mask_phone=lambda v: identity.mask_phone(v, _keeps_head("phone")) if v else "",
        mask_id=lambda v: identity.mask_id_number(v, _keeps_head("id_number")) if v else "",
        format_phone=lambda v: identity.format_phone(v) if v else "",
        localdate=localdate,
        localdatetime=localdatetime,
        localtime=localtime,
        yuan=yuan,
        square_metres=square_metres,
    )
