"""The tables villa keeps. Schema changes go through migrations/, never create_tables()."""

import json
from contextvars import ContextVar

from flask_login import UserMixin
from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

# Office time lives in villa.clock; these names stay importable from here for the modules that use them.
from villa.clock import OFFICE_TZ, now, office_day_start, office_today  # noqa: F401
from villa.crypto import EncryptedField
from villa.db import db
from villa.prepared import Prepared, slot

ROLES = ("reception", "rep", "manager", "auditor", "admin", "broker")
GENDERS = ("M", "F", "U")
VISIT_TYPES = ("visit", "call")
GRADES = ("A", "B+", "B", "B-", "C+", "C", "C-", "D")
STAGES = ("registered", "visited", "pledged", "subscribed", "signed", "lost")
PURPOSES = ("own_use", "investment", "vacation", "upgrade")


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False
        # save() writes only the fields this request changed: a page that loaded a customer and
        # saves a new owner must not write back the follow-up times someone added meanwhile.
        only_save_dirty = True


class User(UserMixin, BaseModel):
    username = CharField(max_length=40, unique=True)
    display_name = CharField(max_length=40)
    role = CharField(max_length=12, index=True)
    manager = ForeignKeyField("self", null=True, backref="team", on_delete="SET NULL")
    password_hash = CharField(max_length=200)
    session_version = IntegerField(default=1)
    must_change_password = BooleanField(default=False)
    password_changed_at = DateTimeField(default=now)
    failed_logins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    active = BooleanField(default=True)
    is_demo = BooleanField(default=False)
    created_at = DateTimeField(default=now)

    def get_id(self) -> str:
        # The version makes every earlier cookie of this user invalid after logout or a new password.
        return f"{self.id}.{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active

    @classmethod
    def by_username(cls, username: str):
        return cls.get_or_none(cls.username == username.strip().lower())

    @classmethod
    def end_sessions(cls, user_id: int):
        """Every session cookie of this user stops working (villa.auth checks the version each request)."""
        cls.update(session_version=cls.session_version + 1).where(cls.id == user_id).execute()

    @classmethod
    def reps(cls) -> list["User"]:
        """Active sales reps by username (every form that assigns a customer lists them)."""
        return list(_active_reps.rows("rep", True))

    @classmethod
    def active_rep(cls, rep_id) -> "User | None":
        """The whole row of the active sales rep with this id, or None: the one a form's list of
        names (rep_names) picked."""
        if not isinstance(rep_id, int):
            return None
        return cls.get_or_none(cls.id == rep_id, cls.role == "rep", cls.active == True)  # noqa: E712

    @classmethod
    def rep_names(cls) -> list["User"]:
        """The same reps with their id and display name only: what a filter's options show (a
        group's hundreds of reps as whole rows cost more than the rest of the page)."""
        return list(_active_rep_names.rows("rep", True))

    def __str__(self):
        return self.display_name


class Channel(BaseModel):
    """Where a customer came from; admins edit the list, code is fixed once used."""

    code = CharField(max_length=30, unique=True)
    name = CharField(max_length=40)
    kind = CharField(max_length=12, default="direct")  # direct, online, event, referral, broker
    protection_days = IntegerField(null=True)  # None: the default for visit or call
    active = BooleanField(default=True)
    sort_order = IntegerField(default=0)

    @classmethod
    def active_list(cls) -> list["Channel"]:
        return list(_active_channels.rows(True))

    @property
    def asks_referrer(self) -> bool:
        return self.kind == "referral"

    @property
    def asks_broker(self) -> bool:
        return self.kind == "broker"

    def __str__(self):
        return self.name


class Customer(BaseModel):
    # Basic information. The name stays searchable by part; contact details are encrypted.
    name = CharField(max_length=40)  # indexed with registered_at (Meta)
    gender = CharField(max_length=1, default="U")
    age_band = CharField(max_length=8, default="")
    phone = EncryptedField()
    phone_index = CharField(max_length=64, unique=True)
    # 尾号: the last four digits, which every masked phone shows anyway; searchable (migration 0014).
    phone_last4 = CharField(max_length=4, default="", index=True)
    alt_phone = EncryptedField(null=True)
    alt_phone_index = CharField(max_length=64, null=True, index=True)
    id_type = CharField(max_length=10, default="resident")
    id_number = EncryptedField(null=True)
    id_index = CharField(max_length=64, null=True, unique=True)
    address = EncryptedField(null=True)
    wechat = EncryptedField(null=True)
    # Source channel.
    channel = ForeignKeyField(Channel, backref="customers", on_delete="RESTRICT")
    visit_type = CharField(max_length=5, default="visit")
    referrer_name = CharField(max_length=40, default="")
    broker_agency = CharField(max_length=60, default="")
    broker_name = CharField(max_length=40, default="")
    # Needs.
    unit_type = CharField(max_length=30, default="")
    area_band = CharField(max_length=20, default="")
    budget = CharField(max_length=20, default="")
    purpose = CharField(max_length=12, default="")
    # Purchasing power: sensitive, encrypted.
    payment_method = EncryptedField(null=True)
    asset_band = EncryptedField(null=True)
    credit_notes = EncryptedField(null=True)
    # Intent and deal.
    grade = CharField(max_length=2, default="C", index=True)
    competing_projects = CharField(max_length=200, default="")
    stage = CharField(max_length=10, default="registered", index=True)
    # The stage a lost customer left, as the funnel reads it from the latest stage_changed audit row;
    # kept by database triggers on audit_log (migrations/0021_daily_summaries.py), never by the app.
    lost_from = CharField(max_length=10, default="registered")
    lost_reason = CharField(max_length=200, default="")
    notes = TextField(default="")
    # The questions villa offices ask (migration 0018; option lists in villa.questions).
    home_area = CharField(max_length=40, default="")
    work_area = CharField(max_length=40, default="")
    occupation = CharField(max_length=40, default="")
    family_structure = CharField(max_length=40, default="")
    purchase_count = CharField(max_length=40, default="")
    concerns = CharField(max_length=200, default="")  # several, joined by "、"
    objections = CharField(max_length=200, default="")  # several, joined by "、"
    # Purchase eligibility (购房资格) as declared at the desk.
    hukou_local = BooleanField(null=True)
    social_insurance_months = IntegerField(null=True)
    homes_owned = IntegerField(null=True)
    # Ownership.
    owner = ForeignKeyField(User, null=True, backref="customers", on_delete="RESTRICT")
    protected_until = DateTimeField(null=True, index=True)
    in_public_pool = BooleanField(default=False, index=True)
    pool_since = DateTimeField(null=True, index=True)
    claimed_at = DateTimeField(null=True)  # taken from the public pool: counts against the rep's quota
    # The maximum protection counts from owned_since; previous_owner waits out the pool cooldown (0015).
    owned_since = DateTimeField(null=True)
    previous_owner = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Indexed by (registered_by, review_status, owner) in Meta (migration 0024), which serves its lookups.
    registered_by = ForeignKeyField(User, backref="registrations", on_delete="RESTRICT", index=False)
    registered_at = DateTimeField(default=now, index=True)
    # Review.
    review_status = CharField(max_length=16, default="pending_first")  # indexed for the queue (Meta)
    # PIPL consent: general consent with the notice version, and separate consent for ID/financial data.
    consent_at = DateTimeField()
    notice_version = CharField(max_length=20)
    sensitive_consent_at = DateTimeField(null=True)
    # Activity and lifecycle.
    next_followup_on = DateField(null=True, index=True)
    first_followup_at = DateTimeField(null=True)  # the first follow-up by anyone, for the scorecard
    last_activity_at = DateTimeField(default=now, index=True)
    archived_at = DateTimeField(null=True)
    anonymised_at = DateTimeField(null=True)
    is_demo = BooleanField(default=False)
    updated_at = DateTimeField(default=now)

    class Meta:
        indexes = (
            # The pages staff open all day (migration 0022): the review queue in order, with what its
            # count reads; a rep's home and the protected-customers cap; near-duplicates by name. (The
            # dashboard's and the scorecards' own indexes went in 0026: they sum the summary tables.)
            (("review_status", "registered_at", "id", "anonymised_at", "registered_by", "owner"), False),
            (("owner", "anonymised_at", "next_followup_on"), False),
            (("owner", "protected_until", "id", "anonymised_at", "stage", "in_public_pool"), False),
            (("owner", "anonymised_at"), False),
            (("name", "registered_at"), False),
            # A manager's review queue (migration 0024): the team's and the unowned by owner; those
            # the owner's manager registered by registrant.
            (("owner", "review_status", "registered_by", "registered_at", "id", "anonymised_at"), False),
            (("registered_by", "review_status", "owner"), False),
        )

    def __str__(self):
        return self.name


class AuditLog(BaseModel):
    """Who changed what, when. Personal-data fields appear as "changed", never with values."""

    at = DateTimeField(default=now, index=True)
    actor = ForeignKeyField(User, null=True, backref="audit_entries", on_delete="RESTRICT")
    action = CharField(max_length=40, index=True)
    customer = ForeignKeyField(Customer, null=True, backref="audit_entries", on_delete="SET NULL")
    target = CharField(max_length=60, default="")
    changes = TextField(default="{}")

    class Meta:
        indexes = ((("action", "at"), False), (("customer", "action"), False))

    @property
    def change_map(self) -> dict:
        return json.loads(self.changes or "{}")

    @classmethod
    def on_customer(cls, customer, actor, action: str, changes: dict | None = None, at=None):
        """One entry on a customer's record (and so on its timeline)."""
        customer_id = customer if isinstance(customer, int) else customer.id
        return cls.create(
            at=at or now(),
            actor=actor,
            action=action,
            customer=customer_id,
            target=f"customer:{customer_id}",
            changes=json.dumps(changes or {}, ensure_ascii=False),
        )


class AccessLog(BaseModel):
    """Every reveal of a full phone or ID number, every exact lookup that found a customer the user
    may not see in full, and every export."""

    at = DateTimeField(default=now, index=True)
    actor = ForeignKeyField(User, backref="access_entries", on_delete="RESTRICT")
    action = CharField(max_length=20)  # reveal, lookup, export
    customer = ForeignKeyField(Customer, null=True, backref="access_entries", on_delete="SET NULL")
    fields = CharField(max_length=200)
    ip = CharField(max_length=45, default="")

    class Meta:
        # One user's day (villa.alerts counts it at every reveal, lookup and export): migration 0009.
        indexes = ((("actor", "at"), False),)


class LoginFailure(BaseModel):
    """Failed logins by address and by the username typed (known or not), so the limits hold across
    workers and hosts."""

    ip = CharField(max_length=45, index=True)
    username = CharField(max_length=40, default="")
    at = DateTimeField(default=now, index=True)

    class Meta:
        indexes = ((("username", "at"), False),)


class Setting(BaseModel):
    key = CharField(max_length=60, primary_key=True)
    value = TextField()

    @classmethod
    def read(cls, key: str, default=None):
        kept = _request_settings.get()
        if kept is None:  # a command, a job: the one row
            value = _setting_by_key.scalar(key)
        else:
            if kept.values is None:
                kept.values = dict(_every_setting.tuples())
            value = kept.values.get(key)
        return json.loads(value) if value is not None else default

    @classmethod
    def write(cls, key: str, value):
        cls.insert(key=key, value=json.dumps(value, ensure_ascii=False)).on_conflict(
            conflict_target=[cls.key], update={cls.value: json.dumps(value, ensure_ascii=False)}
        ).execute()
        _settings_changed()

    @classmethod
    def remove(cls, key: str):
        cls.delete().where(cls.key == key).execute()
        _settings_changed()

    @staticmethod
    def read_once_per_request(on: bool):
        """Within a request (villa.create_app turns it on and off), the first read takes every row
        (a few dozen small ones): a page reads up to a dozen settings, each had been a query."""
        _request_settings.set(_RequestSettings() if on else None)


class _RequestSettings:
    values: dict | None = None


_request_settings: ContextVar[_RequestSettings | None] = ContextVar("villa_request_settings", default=None)


def _settings_changed():
    """This request wrote a setting: its next read takes the rows again, with the change."""
    kept = _request_settings.get()
    if kept is not None:
        kept.values = None


# Read by most pages: settings (eligibility rules, quotas), the reps and channels forms offer.
_setting_by_key = Prepared(lambda: Setting.select(Setting.value).where(Setting.key == slot()))
# Every setting at a request's first read (a few dozen small rows): Setting.read_once_per_request.
_every_setting = Prepared(lambda: Setting.select(Setting.key, Setting.value))
_active_reps = Prepared(
    lambda: User.select().where(User.role == slot(), User.active == slot()).order_by(User.username)
)
_active_rep_names = Prepared(
    lambda: (
        User.select(User.id, User.display_name)
        .where(User.role == slot(), User.active == slot())
        .order_by(User.username)
    )
)
_active_channels = Prepared(
    lambda: Channel.select().where(Channel.active == slot()).order_by(Channel.sort_order, Channel.id)
)


class Visit(BaseModel):
    """A walk-in visit or phone call at the desk: the first registration, or a return."""

    customer = ForeignKeyField(Customer, backref="visits", on_delete="CASCADE")
    kind = CharField(max_length=5, default="visit")  # visit, call
    at = DateTimeField(default=now, index=True)
    received_by = ForeignKeyField(User, backref="received_visits", on_delete="RESTRICT")
    rep = ForeignKeyField(User, null=True, backref="handled_visits", on_delete="RESTRICT")
    is_first = BooleanField(default=False)
    via_rotation = BooleanField(default=False)
    note = CharField(max_length=200, default="")
    acknowledged_at = DateTimeField(null=True)  # the rep saw the return visit in their day

    class Meta:
        indexes = (
            (("rep", "acknowledged_at"), False),
            (("is_first", "at"), False),
            # The rotation's 今日接待, polled by every desk tablet (migration 0022).
            (("rep", "kind", "at"), False),
        )


class Dispute(BaseModel):
    """撞单: a rep claims a customer another rep owns; a manager decides."""

    customer = ForeignKeyField(Customer, backref="disputes", on_delete="CASCADE")
    claimant = ForeignKeyField(User, backref="disputes_opened", on_delete="RESTRICT")
    owner = ForeignKeyField(User, null=True, backref="disputes_against", on_delete="RESTRICT")
    reason = CharField(max_length=500)
    opened_at = DateTimeField(default=now, index=True)
    status = CharField(max_length=10, default="open", index=True)  # open, decided
    decision = CharField(max_length=20, default="")  # keep_owner, to_claimant
    decision_note = CharField(max_length=500, default="")
    decided_by = ForeignKeyField(User, null=True, backref="disputes_decided", on_delete="RESTRICT")
    decided_at = DateTimeField(null=True)


class RotationEntry(BaseModel):
    """轮序: one rep on duty on one office day, with their place in the walk-in queue."""

    day = DateField(index=True)
    rep = ForeignKeyField(User, backref="rotation_entries", on_delete="RESTRICT")
    position = IntegerField()
    status = CharField(max_length=10, default="available")  # available, busy, away, off
    checked_in_at = DateTimeField(default=now)
    assigned_count = IntegerField(default=0)
    last_assigned_at = DateTimeField(null=True)
    manual_walk_ins = IntegerField(default=0)  # "Took a walk-in" without a registration (0015)

    class Meta:
        indexes = ((("day", "rep"), True),)


class RotationSkip(BaseModel):
    """A walk-in given out of turn: to whom, whose turn it was, and why (migration 0015)."""

    day = DateField(index=True)
    at = DateTimeField(default=now)
    given_to = ForeignKeyField(User, backref="+", on_delete="RESTRICT")
    skipped = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT")
    reason = CharField(max_length=20)  # customer_choice, referral, language, other
    note = CharField(max_length=200, default="")
    actor = ForeignKeyField(User, backref="+", on_delete="RESTRICT")
    visit = ForeignKeyField(Visit, null=True, backref="+", on_delete="SET NULL")


class Material(BaseModel):
    """Sales material the desk hands over: floor plans, price list (an uploaded PDF or image)."""

    name = CharField(max_length=60)
    filename = CharField(max_length=120, default="")
    content_type = CharField(max_length=60, default="")
    active = BooleanField(default=True)
    sort_order = IntegerField(default=0)
    created_at = DateTimeField(default=now)


class MaterialGiven(BaseModel):
    customer = ForeignKeyField(Customer, backref="materials_given", on_delete="CASCADE")
    material = ForeignKeyField(Material, backref="handed_out", on_delete="RESTRICT")
    given_at = DateTimeField(default=now)
    given_by = ForeignKeyField(User, backref="materials_handed", on_delete="RESTRICT")


FOLLOWUP_KINDS = ("call", "visit", "wechat", "viewing", "sms")


class FollowUp(BaseModel):
    """One contact with the customer. Append-only: a correction is a new entry pointing at the old."""

    customer = ForeignKeyField(Customer, backref="followups", on_delete="CASCADE")
    author = ForeignKeyField(User, backref="followups", on_delete="RESTRICT")
    kind = CharField(max_length=10)
    reached = BooleanField(default=False)
    content = TextField()
    result = CharField(max_length=200, default="")
    next_at = DateField(null=True, index=True)
    grade = CharField(max_length=2, null=True)  # the grade after this contact, when it changed
    corrects = ForeignKeyField("self", null=True, backref="corrections", on_delete="RESTRICT")
    created_at = DateTimeField(default=now, index=True)
    # When the next follow-up of this customer (by anyone) came, for an entry with a next date.
    next_done_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("customer", "created_at"), False),)


class Review(BaseModel):
    """One reviewer's decision on a registration: level 1 is the sales manager, level 2 the audit team."""

    customer = ForeignKeyField(Customer, backref="reviews", on_delete="CASCADE")
    level = IntegerField()
    decision = CharField(max_length=10)  # approved, rejected
    reason = CharField(max_length=500, default="")
    reviewer = ForeignKeyField(User, backref="reviews", on_delete="RESTRICT")
    at = DateTimeField(default=now, index=True)


class OutboxMessage(BaseModel):
    """A message to the customer (SMS-length); the gateway sends it, or the desk does by hand."""

    customer = ForeignKeyField(Customer, backref="messages", on_delete="CASCADE")
    kind = CharField(max_length=20)  # rejection, approval
    body = CharField(max_length=500)
    status = CharField(max_length=10, default="to_send", index=True)  # to_send, sent, failed
    gateway = CharField(max_length=40, default="manual")
    created_at = DateTimeField(default=now, index=True)
    sent_at = DateTimeField(null=True)
    sent_by = ForeignKeyField(User, null=True, backref="messages_sent", on_delete="RESTRICT")
    error = CharField(max_length=200, default="")


class CorrectionLink(BaseModel):
    """A signed, expiring, single-use link a customer opens to correct their own data."""

    customer = ForeignKeyField(Customer, backref="correction_links", on_delete="CASCADE")
    nonce = CharField(max_length=64, unique=True)
    created_by = ForeignKeyField(User, backref="correction_links", on_delete="RESTRICT")
    created_at = DateTimeField(default=now)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class ChangeRequest(BaseModel):
    """Corrections a customer sent through their link; they apply only after review."""

    customer = ForeignKeyField(Customer, backref="change_requests", on_delete="CASCADE")
    link = ForeignKeyField(CorrectionLink, null=True, backref="change_requests", on_delete="SET NULL")
    changes = EncryptedField()  # JSON of field -> new value; it may hold a phone number
    status = CharField(max_length=10, default="pending", index=True)  # pending, applied, rejected
    created_at = DateTimeField(default=now, index=True)
    decided_by = ForeignKeyField(User, null=True, backref="change_decisions", on_delete="RESTRICT")
    decided_at = DateTimeField(null=True)
    reason = CharField(max_length=500, default="")


class RateEvent(BaseModel):
    """Hits counted against a limit (per address and purpose), shared by every worker."""

    key = CharField(max_length=100)
    at = DateTimeField(default=now, index=True)

    class Meta:
        indexes = ((("key", "at"), False),)  # a key's rows in a window (migration 0023)


class PasswordHistory(BaseModel):
    """Earlier password hashes, so a new password cannot repeat one of the last five."""

    user = ForeignKeyField(User, backref="password_history", on_delete="CASCADE")
    password_hash = CharField(max_length=200)
    at = DateTimeField(default=now)


class MergeLog(BaseModel):
    """Two customer records merged into one; everything needed to undo it."""

    survivor = ForeignKeyField(Customer, backref="merges", on_delete="RESTRICT")
    merged_id = IntegerField(index=True)  # the absorbed record's id, kept (anonymised) for the undo
    snapshot = EncryptedField()  # JSON: both records' fields before the merge
    moved = TextField()  # JSON: which rows of which tables moved from merged to survivor
    merged_by = ForeignKeyField(User, backref="merges", on_delete="RESTRICT")
    at = DateTimeField(default=now)
    undone_at = DateTimeField(null=True)
    undone_by = ForeignKeyField(User, null=True, backref="merges_undone", on_delete="RESTRICT")


class ImportRun(BaseModel):
    """One Excel import (or its dry run), with the row-by-row report."""

    filename = CharField(max_length=200)
    file_sha256 = CharField(max_length=64, index=True)
    dry_run = BooleanField(default=True)
    started_by = ForeignKeyField(User, null=True, backref="imports", on_delete="RESTRICT")
    started_at = DateTimeField(default=now)
    finished_at = DateTimeField(null=True)
    total_rows = IntegerField(default=0)
    imported = IntegerField(default=0)
    duplicates = IntegerField(default=0)
    invalid = IntegerField(default=0)
    report = EncryptedField(null=True)  # JSON rows of the report; a reason may quote a phone


# Running it for years (migration 0013): jobs that report, the incident register, the pledge.


class JobRun(BaseModel):
    """One run of a job (`villa daily`, or one of its steps): when, how it ended, what it counted.

    A step points at the daily run it belongs to. The error is the operator's one line, never
    personal data (villa.jobs)."""

    name = CharField(max_length=40)  # daily, pool_release, retention, backup, restore_test, ...
    run = ForeignKeyField("self", null=True, backref="steps", on_delete="CASCADE")
    started_at = DateTimeField(default=now)
    finished_at = DateTimeField(null=True)
    outcome = CharField(max_length=10, default="running")  # running, ok, failed
    counts = TextField(default="{}")  # JSON: {"released": 3}
    summary = CharField(max_length=300, default="")
    error = CharField(max_length=300, default="")

    class Meta:
        indexes = ((("name", "started_at"), False),)

    @property
    def count_map(self) -> dict:
        return json.loads(self.counts or "{}")


class Incident(BaseModel):
    """A leak of customer data, or the suspicion of one, from its discovery to its closing."""

    what = TextField()
    found_at = DateTimeField()
    suspected_scope = TextField(default="")
    opened_by = ForeignKeyField(User, backref="incidents_opened", on_delete="RESTRICT")
    opened_at = DateTimeField(default=now, index=True)
    message_template = CharField(max_length=500, default="")
    measures = TextField(default="")
    reported_at = DateTimeField(null=True)  # to the authority
    reported_to = CharField(max_length=200, default="")
    responsible = CharField(max_length=200, default="")  # who was held responsible, and how
    closed_at = DateTimeField(null=True)
    closed_by = ForeignKeyField(User, null=True, backref="incidents_closed", on_delete="RESTRICT")


class IncidentCustomer(BaseModel):
    """A customer an incident affected: how they were found, and the notice drafted for them."""

    incident = ForeignKeyField(Incident, backref="customers", on_delete="CASCADE")
    customer = ForeignKeyField(Customer, backref="incidents", on_delete="CASCADE")
    source = CharField(max_length=20)  # access_log, phone_list
    added_at = DateTimeField(default=now)
    message = ForeignKeyField(OutboxMessage, null=True, backref="incident_entries", on_delete="SET NULL")

    class Meta:
        # Not unique: a merge of two records in one incident moves both rows onto the survivor.
        indexes = ((("incident", "customer"), False),)


class PledgeText(BaseModel):
    """One version of the office's confidentiality rules; the newest is the one staff accept."""

    text = TextField()
    created_at = DateTimeField(default=now)
    created_by = ForeignKeyField(User, null=True, backref="pledge_texts", on_delete="RESTRICT")


class PledgeAcceptance(BaseModel):
    """A staff user read and accepted one version of the confidentiality rules."""

    user = ForeignKeyField(User, backref="pledge_acceptances", on_delete="CASCADE")
    pledge = ForeignKeyField(PledgeText, backref="acceptances", on_delete="RESTRICT")
    accepted_at = DateTimeField(default=now, index=True)
    ip = CharField(max_length=45, default="")

    class Meta:
        indexes = ((("user", "pledge", "accepted_at"), False),)


# Staff notifications (villa.notify): reminders to the office's own people, never to customers.


class Notification(BaseModel):
    """One reminder for one staff user: it is their inbox entry, and what the other channels send.

    `details` holds what the text is made from (JSON): masked customer names, counts, dates; never a
    full name or a number. `key` names the message once and for all (the digest of one rep on one
    day, the return visit of one visit): writing it twice writes nothing.
    """

    recipient = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    kind = CharField(max_length=20)  # digest, return_visit, dispute_decided
    key = CharField(max_length=80, unique=True)
    details = TextField(default="{}")
    customer = ForeignKeyField(Customer, null=True, backref="notifications", on_delete="SET NULL")
    created_at = DateTimeField(default=now)
    read_at = DateTimeField(null=True)

    class Meta:
        # The bell counts the unread; the inbox reads newest first (by id).
        indexes = ((("recipient", "read_at"), False), (("recipient", "id"), False))

    @property
    def detail_map(self) -> dict:
        return json.loads(self.details or "{}")


class NotificationDelivery(BaseModel):
    """A notification on its way out through one channel (email, the group robot): the outbox row.

    One per notification and channel (the unique index is the idempotency key). A sender claims a
    row by moving it from "queued" to "sending" in one UPDATE, so two senders never both send it.
    """

    notification = ForeignKeyField(Notification, backref="deliveries", on_delete="CASCADE")
    channel = CharField(max_length=10)
    status = CharField(max_length=10, default="queued")  # queued, sending, sent, failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=now)
    claimed_until = DateTimeField(null=True)  # a sender holds it until then
    sent_at = DateTimeField(null=True)
    error = CharField(max_length=200, default="")
    created_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("notification", "channel"), True), (("status", "next_attempt_at"), False))


class NotificationPreference(BaseModel):
    """Where one user's reminders go besides the inbox, and the addresses that needs."""

    user = ForeignKeyField(User, unique=True, backref="notification_preference", on_delete="CASCADE")
    email = CharField(max_length=120, default="")
    wecom_user_id = CharField(max_length=64, default="")  # to @-mention them in the group
    choices = TextField(default="{}")  # JSON: kind -> [channel, ...]
    updated_at = DateTimeField(default=now)

    @property
    def choice_map(self) -> dict:
        return json.loads(self.choices or "{}")


class SecretSetting(BaseModel):
    """A setting whose value is a secret (the mail password, a group robot's address): encrypted
    like customer data, so a key rotation rewrites it too."""

    key = CharField(max_length=60, unique=True)
    value = EncryptedField()


# Deals (migration 0016): 认筹 / 认购 / 签约 with their unit, price and the manager's confirmation.
DEAL_STAGES = ("pledged", "subscribed", "signed")
PAYMENT_METHODS = ("full", "mortgage", "installment", "other")


class Deal(BaseModel):
    """One 认筹, 认购 or 签约 of a customer: the unit, the price, who recorded and confirmed it.

    status: pending (认购/签约 waiting for the manager; the customer's stage has not moved yet),
    confirmed (the stage moved to `stage`), cancelled (退筹/退房, or refused by the manager).
    `rep` is the customer's owner when the deal was recorded: the rep it counts for.
    """

    customer = ForeignKeyField(Customer, backref="deals", on_delete="CASCADE")
    stage = CharField(max_length=10)
    unit_number = CharField(max_length=30)
    area = DecimalField(max_digits=8, decimal_places=2, auto_round=True)  # ㎡
    price = BigIntegerField()  # total, 元
    deal_date = DateField(index=True)
    payment = CharField(max_length=12)
    status = CharField(max_length=10, default="pending", index=True)
    stage_before = CharField(max_length=10)
    rep = ForeignKeyField(User, null=True, backref="deals", on_delete="RESTRICT")
    recorded_by = ForeignKeyField(User, backref="deals_recorded", on_delete="RESTRICT")
    recorded_at = DateTimeField(default=now)
    confirmed_by = ForeignKeyField(User, null=True, backref="deals_confirmed", on_delete="RESTRICT")
    confirmed_at = DateTimeField(null=True)
    cancelled_by = ForeignKeyField(User, null=True, backref="deals_cancelled", on_delete="RESTRICT")
    cancelled_at = DateTimeField(null=True)
    cancel_reason = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("customer", "recorded_at"), False), (("status", "deal_date"), False))


class NameGram(BaseModel):
    """Each character and each pair of adjacent characters of a customer's name (villa.name_index).

    Written only by database triggers on customer (migrations/0019_name_grams.py), never by the app.
    """

    gram = CharField(max_length=2)
    customer_id = IntegerField()

    class Meta:
        primary_key = CompositeKey("gram", "customer_id")


# Daily summaries (migration 0021): what the dashboard and the scorecards add up, by office day.
# Written only by database triggers on customer, review, follow_up, visit and audit_log, never by
# the app; owner 0 is no owner, lost_from is '' unless the stage is lost (villa.analytics and
# villa.scorecard read them).


class DailyRegistrations(BaseModel):
    """Customers by registration day, channel and visit type."""

    day = DateField()
    channel_id = IntegerField()
    visit_type = CharField(max_length=5)
    customers = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "channel_id", "visit_type")


class DailyCustomerMix(BaseModel):
    """Customers by registration day, channel, stage, grade and the stage left when lost."""

    day = DateField()
    channel_id = IntegerField()
    stage = CharField(max_length=10)
    grade = CharField(max_length=2)
    lost_from = CharField(max_length=10)
    customers = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "channel_id", "stage", "grade", "lost_from")


class DailyOwnerRegistrations(BaseModel):
    """Customers by owner (now), registration day, stage and stage left when lost, with the
    completeness fields filled, how many have a first follow-up and the office days to it."""

    owner_id = IntegerField()
    day = DateField()
    stage = CharField(max_length=10)
    lost_from = CharField(max_length=10)
    customers = IntegerField()
    fields_filled = IntegerField()
    followed_up = IntegerField()
    days_to_first = IntegerField()

    class Meta:
        primary_key = CompositeKey("owner_id", "day", "stage", "lost_from")


class DailyReviews(BaseModel):
    """Review decisions by the customer's owner now, the decision's day, level and decision."""

    owner_id = IntegerField()
    day = DateField()
    level = IntegerField()
    decision = CharField(max_length=10)
    reviews = IntegerField()

    class Meta:
        primary_key = CompositeKey("owner_id", "day", "level", "decision")


class DailyFollowUpsDue(BaseModel):
    """Follow-ups with a next date, by author, that date and the day written: how many, how many
    got a next contact, how many by the date (villa.scorecard's timeliness)."""

    author_id = IntegerField()
    due_on = DateField()
    written_on = DateField()
    due = IntegerField()
    done = IntegerField()
    on_time = IntegerField()

    class Meta:
        table_name = "daily_followups_due"
        primary_key = CompositeKey("author_id", "due_on", "written_on")


class DailyVisits(BaseModel):
    """Desk visits and calls by day, first registrations and returns."""

    day = DateField()
    is_first = BooleanField()
    visits = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "is_first")


class DailyPool(BaseModel):
    """Releases to the public pool and claims from it by day and audit action."""

    day = DateField()
    action = CharField(max_length=40)
    entries = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "action")


class DailyGradeMoves(BaseModel):
    """Grade changes by day, grade before and grade after ('' when the audit row has none)."""

    day = DateField()
    grade_from = TextField()
    grade_to = TextField()
    moves = IntegerField()

    class Meta:
        primary_key = CompositeKey("day", "grade_from", "grade_to")


# 报备 (migration 0020): agencies, their brokers, and the customers brokers report before a visit.
# A 报备's status is stored as open (待到访), confirmed (已确客) or expired (已失效); 已成交 is not stored:
# it is a confirmed 报备 whose customer has reached 认购 or 签约 (villa.reports).
REPORT_STATUSES = ("open", "confirmed", "expired")


class Agency(BaseModel):
    """中介: an agency the office works with, and its contract."""

    name = CharField(max_length=60, unique=True)
    contract_start = DateField(null=True)
    contract_end = DateField(null=True)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=now)

    def __str__(self):
        return self.name


class Broker(BaseModel):
    """经纪人: one broker of an agency; `user` is their login (role broker), when they have one."""

    agency = ForeignKeyField(Agency, backref="brokers", on_delete="RESTRICT")
    name = CharField(max_length=40)
    phone = EncryptedField(null=True)
    phone_index = CharField(max_length=64, null=True, unique=True)
    active = BooleanField(default=True)
    user = ForeignKeyField(User, null=True, unique=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=now)

    @classmethod
    def of_user(cls, user) -> "Broker | None":
        return cls.get_or_none(cls.user == user)

    def __str__(self):
        return self.name


class Report(BaseModel):
    """报备: a broker's customer, recorded before the visit; the desk confirms it (确客) on arrival.

    The phone is kept in full (encrypted, blind-indexed) only when the broker gave it in full;
    `phone_mask` (前三后四, 138****8000) is always there. `open_key` is set while the 报备 is open
    and NULL otherwise: a keyed HMAC of phone_mask and surname, unique, so the database keeps one
    open 报备 per customer across every agency (a full-phone and a 前三后四 report collide).
    `valid_until` is the last second of the office day `validity` days after the report.
    """

    broker = ForeignKeyField(Broker, backref="reports", on_delete="RESTRICT")
    agency = ForeignKeyField(Agency, backref="reports", on_delete="RESTRICT")
    customer_name = CharField(max_length=40)
    surname = CharField(max_length=2)
    phone = EncryptedField(null=True)
    phone_index = CharField(max_length=64, null=True, index=True)
    phone_mask = CharField(max_length=11)
    expected_visit = DateField()
    reported_at = DateTimeField(default=now)
    valid_until = DateTimeField()
    status = CharField(max_length=10, default="open")
    open_key = CharField(max_length=64, null=True, unique=True)
    confirmed_at = DateTimeField(null=True)
    confirmed_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT")
    customer = ForeignKeyField(Customer, null=True, backref="reports", on_delete="SET NULL")
    created_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT")
    # The name and phone removed (villa.retention): with its customer's, or past the retention period.
    anonymised_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            # The desk's 前三后四 lookup (also of expired ones); expiry in `villa daily`; the lists.
            (("phone_mask", "surname", "reported_at"), False),
            (("status", "valid_until"), False),
            (("broker", "reported_at"), False),
            (("agency", "reported_at"), False),
        )


# Every table, in the order of their dependencies (villa.keys walks them to re-encrypt).
ALL_MODELS = (
    User,
    Channel,
    Customer,
    AuditLog,
    AccessLog,
    LoginFailure,
    Setting,
    Visit,
    Dispute,
    RotationEntry,
    RotationSkip,
    Material,
    MaterialGiven,
    FollowUp,
    Review,
    OutboxMessage,
    CorrectionLink,
    ChangeRequest,
    RateEvent,
    PasswordHistory,
    MergeLog,
    ImportRun,
    JobRun,
    Incident,
    IncidentCustomer,
    PledgeText,
    PledgeAcceptance,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    SecretSetting,
    Deal,
    NameGram,
    DailyRegistrations,
    DailyCustomerMix,
    DailyOwnerRegistrations,
    DailyReviews,
    DailyFollowUpsDue,
    DailyVisits,
    DailyPool,
    DailyGradeMoves,
    Agency,
    Broker,
    Report,
)
