"""What a 报备 form may hold: the customer's name, the phone in full or as 前三后四, the visit date."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from villa import settings
from villa.fields import name_allowed
from villa.i18n import lazy_gettext as _l
from villa.identity import try_normalise_phone
from villa.labels import localdate

PHONE_MASK = re.compile(r"^(1\d{2})\*{4}(\d{4})$")
NAME_MAX = 40


class ReportProblem(ValueError):
    """Bad input: {field: message}, shown next to each field (422)."""

    def __init__(self, problems: dict):
        super().__init__(", ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ReportPhone:
    """The phone of a 报备: in full (E.164) when given so, and always as 前三后四."""

    mask: str
    full: str | None = None

    @property
    def last4(self) -> str:
        return self.mask[-4:]


def parse_phone(raw: str) -> ReportPhone:
    """A mainland mobile in full, or as 138****8000; ReportProblem otherwise."""
    text = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw or ""))
    if not text:
        raise ReportProblem({"phone": _l("Please enter a phone number.")})
    masked = PHONE_MASK.fullmatch(text)
    if masked:
        return ReportPhone(mask=text)
    if "*" in text:
        raise ReportProblem(
            {"phone": _l("Write a hidden number as the first 3 and last 4 digits, e.g. 138****8000.")}
        )
    full = try_normalise_phone(text)
    if full is None or not (len(full) == 14 and full.startswith("+861")):
        raise ReportProblem({"phone": _l("Enter a mainland mobile number: 11 digits, or 138****8000.")})
    digits = full[3:]
    return ReportPhone(mask=f"{digits[:3]}****{digits[-4:]}", full=full)


def surname_of(name: str) -> str:
    return (name or "").strip()[:1]


def check_input(customer_name: str, phone: str, expected_visit: str, today: date) -> tuple:
    """(name, ReportPhone, visit date), or ReportProblem with a message per bad field."""
    problems, name = {}, (customer_name or "").strip()
    if not name:
        problems["customer_name"] = _l("Enter the customer's name (at least the surname).")
    elif len(name) > NAME_MAX or not name_allowed(name):
        problems["customer_name"] = _l("Use letters only: no digits, angle brackets or other symbols.")
    try:
        parsed = parse_phone(phone)
    except ReportProblem as bad:
        problems.update(bad.problems)
        parsed = None
    visit = _visit_date(expected_visit, today, problems)
    if problems:
        raise ReportProblem(problems)
    return name, parsed, visit


def _visit_date(text: str, today: date, problems: dict) -> date | None:
    last = today + timedelta(days=settings.read("report_valid_days"))
    try:
        visit = date.fromisoformat((text or "").strip())
    except ValueError:
        problems["expected_visit"] = _l("Enter the date of the visit.")
        return None
    if not today <= visit <= last:
        problems["expected_visit"] = _l(
            "The visit must be between today and %(last)s, while the pre-registration is valid.",
            last=localdate(last),
        )
    return visit
