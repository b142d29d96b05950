"""The client page: everything it shows to one viewer, gathered in one place.

client_page() gathers the whole page; page_section(), header(), field_row() and saved() give the
pieces a save on the page answers with (the changed section or row, the header, the new timeline
entries). Values come masked
or not as this viewer may see them, each with what the viewer may do; the template only renders.
Forms are not made here: they bind to the request, so the web layer makes them from these flags.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from villa import corrections, deals, logs, review
from villa.customers import can_reveal, can_see_full, can_write, shown_name
from villa.eligibility import EligibilityResult, evaluate
from villa.followups import timeline_followups
from villa.i18n import lazy_gettext as _l
from villa.identity import format_phone, mask_id_number, mask_name, mask_phone
from villa.labels import GENDER_LABELS, ID_TYPE_LABELS, PURPOSE_LABELS
from villa.materials import handed_to
from villa.models import Customer, Deal, Dispute, FollowUp, MaterialGiven, Review, User
from villa.profile import EDITABLE, current_value
from villa.protection import max_protection_end
from villa.questions import QUESTIONS
from villa.report_panel import report_panel
from villa.settings import masking
from villa.source_correction import may_correct_source
from villa.timeline import Entry, events_since, field_label, timeline

HIDDEN = "••••"
EMPTY = "—"  # a field without a value, as its row shows it
# Who sees which reveals of the customer's numbers were made, and who opens the correction queue.
WHO_SAW_ROLES = ("manager", "auditor")
CORRECTION_REVIEW_ROLES = ("manager", "auditor")

# The editable fields of each section of the page, in the order shown.
SECTIONS = {
    "contact": ("name", "gender", "age_band", "phone", "alt_phone", "id_number", "address", "wechat"),
    "source": ("referrer_name", "broker_agency", "broker_name"),
    "needs": ("unit_type", "area_band", "budget", "purpose", "competing_projects"),
    "questions": tuple(QUESTIONS),  # the questions villa offices ask
    "eligibility": ("hukou_local", "social_insurance_months", "homes_owned"),
    "purchasing_power": ("payment_method", "asset_band", "credit_notes"),
    "notes": ("notes",),
}
SECTION_TITLES = {
    "contact": _l("Contact"),
    "source": _l("Source"),
    "needs": _l("Needs"),
    "questions": _l("More about the customer"),
    "eligibility": _l("Purchase eligibility"),
    "purchasing_power": _l("Purchasing power"),
    "notes": _l("Notes"),
}
# Shown above the contact section's rows (the masked numbers, with the logged reveal): not twice.
SHOWN_BY_CONTACT = ("phone", "id_number")


@dataclass(frozen=True)
class Shown:
    text: str
    masked: bool = False


@dataclass(frozen=True)
class FieldRow:
    """One field as this viewer sees it, and whether they may change it (click-to-edit)."""

    name: str
    label: object
    text: str
    masked: bool
    editable: bool


@dataclass(frozen=True)
class Source:
    """How the customer came: channel and visit type (corrected by the owner's manager and the
    audit team), and who registered them when."""

    channel: str  # the channel's name
    registered_by: str
    may_correct: bool


@dataclass(frozen=True)
class Section:
    """One section of the client page: its fields as this viewer sees them, edited together (one
    编辑 opens them all as one form), with what the section shows beside them."""

    name: str
    title: object
    rows: list[FieldRow]  # empty: the fields are not shown to this viewer
    editable: bool
    contact: "Contact | None" = None  # the contact section: phone and ID number, masked or revealed
    may_reveal: bool = False
    may_record_consent: bool = False  # ID and financial details wait for the separate consent
    source: Source | None = None
    eligibility: EligibilityResult | None = None

    @property
    def shown(self) -> bool:
        return bool(self.rows or self.contact or self.source or self.eligibility)

    @property
    def shown_rows(self) -> list[FieldRow]:
        if self.contact is None:
            return self.rows
        return [row for row in self.rows if row.name not in SHOWN_BY_CONTACT]

    @property
    def filled_rows(self) -> list[FieldRow]:
        """The fields with a value: a line each."""
        return [row for row in self.shown_rows if row.text != EMPTY]

    @property
    def empty_labels(self) -> list:
        """The fields without one, named together on one line (未填写：…)."""
        return [row.label for row in self.shown_rows if row.text == EMPTY]


@dataclass(frozen=True)
class Header:
    """The page's title block."""

    name: str  # as this viewer may see it: in full or masked
    grade: str
    stage: str
    review_status: str
    owner: str | None  # the owner's display name; None while the customer is in the public pool
    protected_until: datetime | None  # only while someone owns the customer
    next_followup_on: date | None
    # Protection ends there because the owner's longest protection (最长保护期) ends then.
    at_maximum: bool = False


@dataclass(frozen=True)
class Contact:
    """Phone and ID number: masked in the office's form, or in full after a logged reveal."""

    phone: str
    id_type: str
    id_number: str  # empty: no ID number on record
    revealed: bool


@dataclass(frozen=True)
class ReviewBlock:
    status: str
    decisions: list[Review]  # oldest first, with the reviewer
    reasons_shown: bool  # a rejection's reason, for who may reveal the customer's details
    may_resubmit: bool


@dataclass(frozen=True)
class CorrectionsBlock:
    waiting: int  # the customer's own corrections waiting for review (0 for who neither links nor reviews)
    may_create_link: bool
    may_open_queue: bool

    @property
    def shown(self) -> bool:
        return self.may_create_link or self.waiting > 0


@dataclass(frozen=True)
class Seen:
    """One reveal of the customer's numbers: who, when, which (in words)."""

    who: str
    at: datetime
    fields: list


@dataclass(frozen=True)
class DealRow:
    """One 认筹, 认购 or 签约 of the customer, and what this viewer may do with it."""

    deal: Deal
    may_confirm: bool
    may_cancel: bool


@dataclass(frozen=True)
class Card:
    """The 判客 card: all a viewer who may not see the customer in full gets of them. Whose customer
    it is and since when, never their needs, notes, follow-ups or history."""

    name: str  # masked
    phone: str  # masked
    owner: str | None  # the owner's display name; None while the customer is in the public pool
    registered_at: datetime
    protected_until: datetime | None
    may_dispute: bool  # a rep who is not the owner may say the customer is theirs
    dispute_open: bool  # this rep's dispute on the customer waits for a manager


@dataclass(frozen=True)
class ClientPage:
    customer: Customer
    card: Card | None  # set: the viewer gets the 判客 card only, and everything below is empty
    header: Header
    channel: str  # the channel's name
    registered_by: str  # who registered the customer, by display name
    contact: Contact
    may_write: bool
    may_reveal: bool
    sections: dict[str, list[FieldRow]]  # an empty list: not shown to this viewer
    eligibility: EligibilityResult
    materials: list[MaterialGiven]
    entries: list[Entry]  # the timeline, newest first, as this viewer may see it
    review: ReviewBlock
    corrections: CorrectionsBlock
    who_saw: list[Seen] | None  # None: not for this viewer
    may_open_access_log: bool
    may_reassign: bool
    may_erase: bool
    deals: list[DealRow]  # empty for who may not see the customer in full
    may_correct_source: bool = False  # channel and visit type: the owner's manager, the audit team
    reports: tuple = ()  # the 报备 confirmed onto the customer (villa.report_panel)
    # "You may look but not change": not for the desk, which opens the page right after registering.
    says_read_only: bool = False
    section_views: dict[str, Section] = field(default_factory=dict)  # by name, as the page draws them


def client_page(viewer: User, customer: Customer) -> ClientPage:
    """Everything the client page shows to this viewer, with what they may do on it.

    Who may not see the customer in full (villa.customers.can_see_full) gets the 判客 card only."""
    if not can_see_full(viewer, customer):
        return card_page(viewer, customer)
    may_write, may_reveal = can_write(viewer, customer), can_reveal(viewer, customer)
    sections = {
        name: _rows(customer, name, may_write, may_reveal) if _shown(name, may_write, may_reveal) else []
        for name in SECTIONS
    }
    facts = _facts(viewer, customer)
    return ClientPage(
        customer=customer,
        card=None,
        header=header(viewer, customer),
        channel=facts["source"].channel,
        registered_by=facts["source"].registered_by,
        contact=facts["contact"],
        may_write=may_write,
        may_reveal=may_reveal,
        sections=sections,
        eligibility=facts["eligibility"],
        materials=handed_to(customer),
        entries=timeline(customer, viewer),
        review=ReviewBlock(
            customer.review_status,
            review.history(customer),
            may_reveal,
            review.may_resubmit(viewer, customer),
        ),
        corrections=_corrections(viewer, customer),
        who_saw=_who_saw(customer) if viewer.role in WHO_SAW_ROLES else None,
        may_open_access_log=viewer.role == "auditor",
        may_reassign=viewer.role == "manager" and may_write,
        may_erase=viewer.role == "admin" and not customer.anonymised_at,
        deals=deal_rows(viewer, customer),
        may_correct_source=facts["source"].may_correct,
        says_read_only=not may_write and viewer.role != "reception",
        reports=tuple(report_panel(viewer, customer)),
        section_views={
            name: _section(customer, name, rows, may_write, may_reveal, **facts)
            for name, rows in sections.items()
        },
    )


def page_section(viewer: User, customer: Customer, name: str) -> Section:
    """One section as client_page() shows it: what a section's save or cancel answers with."""
    may_write, may_reveal = can_write(viewer, customer), can_reveal(viewer, customer)
    rows = _rows(customer, name, may_write, may_reveal) if _shown(name, may_write, may_reveal) else []
    return _section(customer, name, rows, may_write, may_reveal, **_facts(viewer, customer))


def _shown(section_name: str, may_write: bool, may_reveal: bool) -> bool:
    """Contact details and notes for who works the customer; finances and the questions for who
    may see the customer's details; the rest for everyone who sees the customer in full."""
    return {
        "contact": may_write,
        "notes": may_write,
        "purchasing_power": may_reveal,
        "questions": may_reveal,
    }.get(section_name, True)


def _rows(customer: Customer, section_name: str, may_write: bool, may_reveal: bool) -> list[FieldRow]:
    return [field_row(customer, name, may_write, may_reveal) for name in SECTIONS[section_name]]


def _facts(viewer: User, customer: Customer) -> dict:
    """What sections show beside their fields: the masked numbers, the source, the eligibility."""
    return {
        "contact": contact(customer, revealed=False),
        "source": Source(
            _read_with(customer, "channel_name", lambda: customer.channel.name),
            _read_with(customer, "registrar_name", lambda: customer.registered_by.display_name),
            may_correct_source(viewer, customer),
        ),
        "eligibility": evaluate(customer.hukou_local, customer.social_insurance_months, customer.homes_owned),
    }


def _section(customer, name, rows, may_write, may_reveal, contact, source, eligibility) -> Section:
    return Section(
        name,
        SECTION_TITLES[name],
        rows,
        editable=may_write and bool(rows),
        contact=contact if name == "contact" else None,
        may_reveal=may_reveal,
        may_record_consent=may_write and not customer.sensitive_consent_at and name == "contact",
        source=source if name == "source" else None,
        eligibility=eligibility if name == "eligibility" else None,
    )


def deal_rows(viewer: User, customer: Customer) -> list[DealRow]:
    """The customer's deals, newest first, for who may see the customer in full."""
    if not can_see_full(viewer, customer):
        return []
    confirms = deals.may_confirm(viewer, customer)
    return [
        DealRow(deal, confirms and deal.status == "pending", deals.may_cancel(viewer, deal))
        for deal in deals.deals_of(customer)
    ]


def card(viewer: User, customer: Customer) -> Card:
    owned = customer.owner_id is not None
    may_dispute = viewer.role == "rep" and owned and customer.owner_id != viewer.id
    return Card(
        name=mask_name(customer.name),
        phone=mask_phone(customer.phone, masking()["phone"]) if customer.phone else "",
        owner=customer.owner.display_name if owned else None,
        registered_at=customer.registered_at,
        protected_until=customer.protected_until if owned else None,
        may_dispute=may_dispute and not customer.anonymised_at,
        dispute_open=may_dispute
        and Dispute.select()
        .where(Dispute.customer == customer.id, Dispute.claimant == viewer.id, Dispute.status == "open")
        .exists(),
    )


def card_page(viewer: User, customer: Customer) -> ClientPage:
    """The client page of who may not see the customer in full: the 判客 card, and the admin's
    erasure (PIPL requests reach the admin, who sees no customer in full)."""
    shown = card(viewer, customer)
    return ClientPage(
        customer=customer,
        card=shown,
        header=Header(shown.name, "", "", "", shown.owner, shown.protected_until, None),
        channel="",
        registered_by="",
        contact=Contact(shown.phone, customer.id_type, "", False),
        may_write=False,
        may_reveal=False,
        sections={section: [] for section in SECTIONS},
        eligibility=evaluate(None, None, None),
        materials=[],
        entries=[],
        review=ReviewBlock(customer.review_status, [], False, False),
        corrections=CorrectionsBlock(0, False, False),
        who_saw=None,
        may_open_access_log=False,
        may_reassign=False,
        may_erase=viewer.role == "admin" and not customer.anonymised_at,
        deals=[],
    )


def header(viewer: User, customer: Customer) -> Header:
    owned = customer.owner_id is not None
    protected_until, most = customer.protected_until if owned else None, max_protection_end(customer)
    at_maximum = bool(protected_until and most and most <= protected_until)
    return Header(
        name=shown_name(viewer, customer),
        grade=customer.grade,
        stage=customer.stage,
        review_status=customer.review_status,
        owner=_read_with(customer, "owner_name", lambda: customer.owner.display_name) if owned else None,
        protected_until=most if at_maximum else protected_until,
        next_followup_on=customer.next_followup_on,
        at_maximum=at_maximum,
    )


def _read_with(customer: Customer, name: str, load):
    """A name customer_by_id reads with the customer (villa.customers); for a customer loaded
    otherwise, `load` reads it from the related row."""
    value = getattr(customer, name, None)
    return value if value is not None else load()


def contact(customer: Customer, revealed: bool) -> Contact:
    if revealed:
        phone = format_phone(customer.phone) if customer.phone else ""
        return Contact(phone, customer.id_type, customer.id_number or "", True)
    keeps_head = masking()
    phone = mask_phone(customer.phone, keeps_head["phone"]) if customer.phone else ""
    number = mask_id_number(customer.id_number, keeps_head["id_number"]) if customer.id_number else ""
    return Contact(phone, customer.id_type, number, False)


def field_row(customer: Customer, field_name: str, may_write: bool, may_reveal: bool) -> FieldRow:
    shown = shown_value(customer, field_name, may_reveal)
    return FieldRow(field_name, EDITABLE[field_name].label, shown.text, shown.masked, may_write)


def shown_value(customer: Customer, field_name: str, may_reveal: bool) -> Shown:
    """A field's value as this viewer may see it: phone and ID always masked (reveal is separate)."""
    value = current_value(customer, field_name)
    if field_name == "id_number":
        id_type, number = value
        if not number:
            return Shown(EMPTY)
        return Shown(f"{ID_TYPE_LABELS.get(id_type, id_type)} {mask_id_number(number)}", True)
    if value is None or value == "":
        return Shown(EMPTY)
    if field_name in ("phone", "alt_phone"):
        return Shown(mask_phone(value), True)
    if field_name == "name":
        return Shown(value) if may_reveal else Shown(mask_name(value), True)
    if EDITABLE[field_name].hidden_from_others and not may_reveal:
        return Shown(HIDDEN, True)
    labels = {"gender": GENDER_LABELS, "purpose": PURPOSE_LABELS}.get(field_name)
    if labels:
        return Shown(str(labels.get(value, value)))
    if field_name == "hukou_local":
        return Shown(str(_l("Yes") if value else _l("No")))
    return Shown(str(value))


def _corrections(viewer: User, customer: Customer) -> CorrectionsBlock:
    may_link = corrections.may_create_link(viewer, customer)
    counted = may_link or corrections.may_review(viewer, customer)
    return CorrectionsBlock(
        waiting=corrections.pending_count(customer) if counted else 0,
        may_create_link=may_link,
        may_open_queue=viewer.role in CORRECTION_REVIEW_ROLES,
    )


def _who_saw(customer: Customer) -> list[Seen]:
    return [
        Seen(seen.actor.display_name, seen.at, [field_label(name) for name in seen.fields.split(",") if name])
        for seen in logs.who_saw(customer)
    ]


@dataclass(frozen=True)
class Saved:
    """What a save on the client page changed on it, beside the row it answers with."""

    header: Header
    entries: list[Entry]  # what the save added to the timeline, newest first
    corrected: FollowUp | None  # the follow-up a correction was made to, with its corrections


def saved(viewer: User, customer: Customer, since: datetime, corrected_id: int | None = None) -> Saved:
    """The header now, and the timeline events this viewer wrote on the customer from `since`."""
    corrected = None
    if corrected_id is not None:
        corrected = next((f for f in timeline_followups(customer) if f.id == corrected_id), None)
    return Saved(header(viewer, customer), events_since(customer, viewer, since), corrected)
