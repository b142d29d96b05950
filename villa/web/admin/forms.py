from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, Optional

from villa.auth import password_problem
from villa.fields import options
from villa.i18n import lazy_gettext as _l
from villa.labels import CHANNEL_KIND_LABELS, ROLE_LABELS
from villa.materials import NAME_MAX
from villa.models import User
from villa.questions import QUESTIONS
from villa.users import USERNAME

ERASURE_REASON_MAX = 300


class MaterialForm(FlaskForm):
    name = StringField(
        _l("Material name"),
        validators=[
            DataRequired(_l("Give the material a name.")),
            Length(max=NAME_MAX, message=_l("At most %(max)d characters.", max=NAME_MAX)),
        ],
    )
    # The type is checked on the file's first bytes (villa.materials), not on its name.
    upload = FileField(_l("File (PDF, PNG or JPEG, at most 10 MB)"))


# Users. The checks here give the admin messages in their language; villa.users checks again.


class UserCreateForm(FlaskForm):
    username = StringField(
        _l("Username"), validators=[DataRequired(_l("Choose a username.")), Length(max=40)]
    )
    display_name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=40)]
    )
    # A broker's account belongs to a broker of an agency: made with `villa user create NAME --role
    # broker --agency AGENCY`, which writes both (an account alone could not report).
    role = SelectField(
        _l("Role"),
        choices=options((code, label) for code, label in ROLE_LABELS.items() if code != "broker"),
        default="rep",
        description=_l(
            "Brokers' accounts are made with the command villa user create … --role broker --agency …"
        ),
    )
    manager = SelectField(_l("Manager (sales reps only)"))
    password = PasswordField(
        _l("Initial password"),
        description=_l(
            "At least 12 characters, hard to guess (not a name nor the office's words). "
            "The user must change it at the first login."
        ),
        validators=[DataRequired(_l("Type an initial password.")), Length(max=200)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manager.choices = manager_choices()

    def validate_username(self, field):
        field.data = (field.data or "").strip().lower()
        if not USERNAME.match(field.data):
            raise ValidationError(_l("2 to 40 characters: a-z, digits, _ . -, starting with a letter."))
        if User.by_username(field.data):
            raise ValidationError(_l("This username is taken."))

    def validate_manager(self, field):
        if field.data and self.role.data != "rep":
            raise ValidationError(_l("Only sales reps have a manager."))

    def validate_password(self, field):
        username, name = self.username.data or "", self.display_name.data
        problem = password_problem(None, username, field.data or "", display_name=name)
        if problem:
            raise ValidationError(problem)


class UserEditForm(FlaskForm):
    display_name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=40)]
    )
    role = SelectField(_l("Role"), choices=options(ROLE_LABELS.items()))
    manager = SelectField(_l("Manager (sales reps only)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manager.choices = manager_choices()

    def validate_manager(self, field):
        if field.data and self.role.data != "rep":
            raise ValidationError(_l("Only sales reps have a manager."))


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("Temporary password"),
        description=_l(
            "At least 12 characters, hard to guess (not a name nor the office's words). "
            "The user must change it at the next login."
        ),
        validators=[DataRequired(_l("Type a temporary password.")), Length(max=200)],
    )


def manager_choices():
    managers = User.select().where(User.role == "manager", User.active == True).order_by(User.username)  # noqa: E712
    none = ("", _l("None (seen by every manager)"))
    return options([none, *((m.username, f"{m.display_name} ({m.username})") for m in managers)])


# Settings: one small form per section of the settings page. Fields are named after the settings,
# or after their parts inside a mapping setting, so a refusal from villa.settings finds its field.


class SettingsSection(FlaskForm):
    keys: tuple[str, ...] = ()

    @classmethod
    def initial(cls, read) -> dict:
        """Form data for the current settings, `read` being villa.settings.read."""
        return {key: read(key) for key in cls.keys}

    def to_settings(self) -> dict:
        return {key: self[key].data for key in self.keys}

    def place(self, problems: dict):
        for path, message in problems.items():
            self[path.rpartition(".")[2]].errors.append(message)


class OwnershipForm(SettingsSection):
    keys = ("protection_days_visit", "protection_days_call", "pool_quota")
    protection_days_visit = IntegerField(_l("Protection after a walk-in visit (days, 1-90)"))
    protection_days_call = IntegerField(_l("Protection after a phone call (days, 1-90)"))
    pool_quota = IntegerField(_l("Customers a rep may claim from the public pool (0-500)"))


RENEWAL_LABELS = {
    "full": _l("Renews the full period"),
    "short": _l("Renews the short period"),
    "none": _l("Renews nothing"),
}


def _renewal(label):
    return SelectField(label, choices=options(RENEWAL_LABELS.items()))


class ProtectionPolicyForm(SettingsSection):
    """What a reached follow-up renews, by kind (fields named after the kinds), and the limits."""

    keys = ("protection_days_short", "protection_max_days", "protected_customers_cap", "pool_cooldown_days")
    visit = _renewal(_l("A reached visit"))
    viewing = _renewal(_l("A reached viewing"))
    call = _renewal(_l("A reached phone call"))
    wechat = _renewal(_l("A reached WeChat"))
    sms = _renewal(_l("A reached SMS"))
    protection_days_short = IntegerField(_l("The short period (days, 1-90)"))
    protection_max_days = IntegerField(
        _l("Longest protection in all (days from when the rep got the customer, 1-3650)"),
        description=_l("After it only a deal stage (pledge or later) keeps the customer."),
    )
    protected_customers_cap = IntegerField(_l("Protected customers one rep may hold (1-100000)"))
    pool_cooldown_days = IntegerField(_l("Days before a rep may take back a customer they let lapse (0-365)"))

    @classmethod
    def initial(cls, read):
        return {**read("protection_renewal"), **{key: read(key) for key in cls.keys}}

    def to_settings(self):
        kinds = ("visit", "viewing", "call", "wechat", "sms")
        return {
            "protection_renewal": {kind: self[kind].data for kind in kinds},
            **{key: self[key].data for key in self.keys},
        }


class EligibilityForm(SettingsSection):
    local_max_homes_owned = IntegerField(_l("Local household: homes it may already own"))
    nonlocal_min_months = IntegerField(_l("Non-local household: months of social insurance or tax needed"))
    nonlocal_max_homes_owned = IntegerField(_l("Non-local household: homes it may already own"))

    @classmethod
    def initial(cls, read):
        return dict(read("eligibility_rules"))

    def to_settings(self):
        parts = ("local_max_homes_owned", "nonlocal_min_months", "nonlocal_max_homes_owned")
        return {"eligibility_rules": {part: self[part].data for part in parts}}


class LinesSection(SettingsSection):
    """A list setting typed one item per line."""

    @classmethod
    def initial(cls, read):
        return {key: "\n".join(read(key)) for key in cls.keys}

    def to_settings(self):
        return {key: (self[key].data or "").splitlines() for key in self.keys}


class RejectionReasonsForm(SettingsSection):
    """Each reason with what the customer reads for it, one per line: "内部原因 | 给客户的说明"."""

    keys = ("rejection_reasons", "rejection_customer_texts", "rejection_customer_default")
    rejection_reasons = TextAreaField(
        _l("Rejection reasons"),
        description=_l(
            "One per line, 1 to 30 lines: the reason the rep sees (at most 100 characters), then | and "
            "what the customer's message says instead (at most 60). The customer never reads the reason "
            "itself; a line without a text for the customer uses the text below."
        ),
        render_kw={"rows": 8},
    )
    rejection_customer_default = StringField(
        _l("Text for the customer when a reason has none of its own"),
        description=_l("Also used when a reviewer types a reason that is not in the list."),
    )

    @classmethod
    def initial(cls, read):
        texts = read("rejection_customer_texts")
        lines = [f"{r} | {texts[r]}" if texts.get(r) else r for r in read("rejection_reasons")]
        return {"rejection_reasons": "\n".join(lines), "rejection_customer_default": read(cls.keys[2])}

    def to_settings(self):
        reasons, texts = [], {}
        for line in (self.rejection_reasons.data or "").splitlines():
            reason, _bar, text = line.replace("｜", "|").partition("|")
            reasons.append(reason.strip())
            if reason.strip() and text.strip():
                texts[reason.strip()] = text.strip()
        return {
            "rejection_reasons": reasons,
            "rejection_customer_texts": texts,
            "rejection_customer_default": self.rejection_customer_default.data or "",
        }

    def place(self, problems: dict):
        for path, message in problems.items():
            name = path if path == "rejection_customer_default" else "rejection_reasons"
            if path.startswith("rejection_customer_texts."):
                message = f"{path.partition('.')[2]}: {message}"
            self[name].errors.append(message)


class ReviewChecklistForm(LinesSection):
    keys = ("review_checklist",)
    review_checklist = TextAreaField(
        _l("Review checklist"), description=_l("One item per line."), render_kw={"rows": 8}
    )


def _options_field(question: str) -> TextAreaField:
    return TextAreaField(
        QUESTIONS[question][1],
        description=_l("One option per line, at most 50, each at most 40 characters; no 、 or |."),
        render_kw={"rows": 6},
    )


class QuestionOptionsForm(LinesSection):
    """The options of the questions villa offices ask (villa.questions), one list per question."""

    keys = tuple(setting for setting, _label in QUESTIONS.values())
    options_home_area = _options_field("home_area")
    options_work_area = _options_field("work_area")
    options_occupation = _options_field("occupation")
    options_family_structure = _options_field("family_structure")
    options_purchase_count = _options_field("purchase_count")
    options_concerns = _options_field("concerns")
    options_objections = _options_field("objections")


class MessagesForm(SettingsSection):
    rejection = TextAreaField(
        _l("Rejection message"),
        description=_l(
            "Must contain {reason}: the text for the customer of the rejection reason (see Rejection "
            "reasons), never the reason itself. {name} is the customer's name. At most 140 characters."
        ),
        render_kw={"rows": 3},
    )
    approval = TextAreaField(
        _l("Approval message"), description=_l("{name} is the customer's name."), render_kw={"rows": 3}
    )
    notify_on_approval = BooleanField(_l("Send the approval message when a registration is approved"))

    @classmethod
    def initial(cls, read):
        return {**read("message_templates"), "notify_on_approval": read("notify_on_approval")}

    def to_settings(self):
        return {
            "message_templates": {"rejection": self.rejection.data, "approval": self.approval.data},
            "notify_on_approval": bool(self.notify_on_approval.data),
        }


class PrivacyNoticeForm(SettingsSection):
    keys = ("privacy_notice_text", "privacy_notice_version")
    privacy_notice_text = TextAreaField(_l("Privacy notice"), render_kw={"rows": 6})
    privacy_notice_version = StringField(
        _l("Version"), description=_l("A changed text needs a new version: consents record it.")
    )


class CorrectionsForm(SettingsSection):
    keys = ("correction_link_hours",)
    correction_link_hours = IntegerField(_l("A correction link works for (hours, 1-720)"))


class KeepingForm(SettingsSection):
    keys = ("retention_years",)
    retention_years = IntegerField(_l("Anonymise inactive, unsigned customers after (years, 1-30)"))


WEEKDAYS = (
    (0, _l("Monday")),
    (1, _l("Tuesday")),
    (2, _l("Wednesday")),
    (3, _l("Thursday")),
    (4, _l("Friday")),
    (5, _l("Saturday")),
    (6, _l("Sunday")),
)


class BackupsForm(SettingsSection):
    keys = (
        "backups_daily",
        "backups_weekly",
        "backups_monthly",
        "backup_copy_dir",
        "backup_age_limit_hours",
        "restore_test_weekday",
    )
    backups_daily = IntegerField(_l("Daily backups kept (the newest of each of the last days, 1-365)"))
    backups_weekly = IntegerField(_l("Weekly backups kept (the newest of each of the last weeks, 0-260)"))
    backups_monthly = IntegerField(_l("Monthly backups kept (the newest of each of the last months, 0-240)"))
    backup_copy_dir = StringField(
        _l("Second folder for each backup (optional)"),
        description=_l(
            "The full path of a mounted NAS or USB disk, e.g. /mnt/nas/villa-backups. Each backup is "
            "copied there and read back. Empty: no second copy. "
            "VILLA_BACKUP_COPY_DIR, when set, is used instead."
        ),
    )
    backup_age_limit_hours = IntegerField(
        _l("Warn when the newest backup is older than (hours, 1-720)"),
        description=_l("The administration page shows it in red, and /healthz/ready answers 503."),
    )
    restore_test_weekday = SelectField(
        _l("Weekly restore test on"),
        choices=options(WEEKDAYS),
        coerce=int,
        description=_l("The nightly job also runs it whenever the last good one is more than 7 days old."),
    )

    def to_settings(self):
        return {**super().to_settings(), "backup_copy_dir": (self.backup_copy_dir.data or "").strip()}


class IncidentNoticeForm(SettingsSection):
    keys = ("incident_message_template",)
    incident_message_template = TextAreaField(
        _l("Notice to each affected customer"),
        description=_l(
            "{name} is the customer's name. At most 280 characters. Each incident starts from this "
            "text and may change it."
        ),
        render_kw={"rows": 4},
    )


class LookupsForm(SettingsSection):
    keys = ("lookup_limit_per_minute", "lookup_limit_per_day")
    lookup_limit_per_minute = IntegerField(
        _l("Complete phone or ID numbers one user may look up in a minute"),
        description=_l("Typing is never counted; a number looked up again the same day counts once."),
    )
    lookup_limit_per_day = IntegerField(_l("… and in a day"))


MASKED_FORMS = {
    "phone": (("standard", _l("138****8000: first three and last four digits")),
              ("last_four", _l("*******8000: last four digits only"))),
    "id_number": (("standard", _l("1101**********733X: first four and last four")),
                  ("last_four", _l("**************733X: last four only"))),
}  # fmt: skip


class MaskingForm(SettingsSection):
    keys = ("masked_phone", "masked_id_number")
    masked_phone = SelectField(_l("A masked phone number shows"), choices=options(MASKED_FORMS["phone"]))
    masked_id_number = SelectField(_l("A masked ID number shows"), choices=options(MASKED_FORMS["id_number"]))


class AlertsForm(SettingsSection):
    keys = ("alert_reveals_per_day", "alert_lookups_per_day", "alert_exports_per_day")
    alert_reveals_per_day = IntegerField(_l("Alert when one user reveals more full numbers in a day than"))
    alert_lookups_per_day = IntegerField(
        _l("Alert when one user's exact lookups find more customers not their own in a day than")
    )
    alert_exports_per_day = IntegerField(_l("Alert when one user exports more often in a day than"))


# Channels.


class ChannelEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the channel a name.")), Length(max=40)])
    kind = SelectField(_l("Kind"), choices=options(CHANNEL_KIND_LABELS.items()), default="direct")
    protection_days = IntegerField(
        _l("Protection (days, 1-90)"),
        description=_l("Empty: the office default for a visit or a call."),
        validators=[Optional()],
    )


class ChannelForm(ChannelEditForm):
    code = StringField(
        _l("Code"),
        description=_l("Lower-case letters, digits and _; fixed once saved."),
        validators=[DataRequired(_l("Give the channel a code.")), Length(max=30)],
    )


class _Confirmed(FlaskForm):
    """A form whose `confirm` field must repeat `expected`: typing it is the guard against a slip."""

    mismatch = _l("Type the number shown.")

    def __init__(self, *args, expected, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = str(expected)

    def validate_confirm(self, field):
        if (field.data or "").strip() != self.expected:
            raise ValidationError(self.mismatch)


class RetentionRunForm(_Confirmed):
    confirm = StringField(
        _l("Type the number of customers to anonymise"),
        validators=[DataRequired(_l("Type the number of customers to anonymise."))],
    )
    mismatch = _l("That is not the number in the report: check the report again.")


class ErasureForm(_Confirmed):
    reason = TextAreaField(
        _l("Reason (the customer's request: when and how it was made)"),
        validators=[
            DataRequired(_l("Give the reason for the erasure (the customer's request).")),
            Length(
                max=ERASURE_REASON_MAX,
                message=_l("At most %(max)d characters.", max=ERASURE_REASON_MAX),
            ),
        ],
    )
    confirm = StringField(
        _l("Type the customer number to confirm"),
        validators=[DataRequired(_l("Type the customer number to confirm."))],
    )
    mismatch = _l("That is not this customer's number.")


class PledgeTextForm(FlaskForm):
    text = TextAreaField(
        _l("The office's confidentiality rules"),
        description=_l(
            "Saving a changed text publishes a new version: every user accepts it at their next step."
        ),
        render_kw={"rows": 14},
    )


# Handover (离职交接): where a leaving rep's customers go.

HANDOVER_DESTINATIONS = (
    ("rep", _l("To one sales rep")),
    ("team", _l("Spread evenly over the rest of the team")),
    ("pool", _l("To the public pool")),
)


class HandoverForm(FlaskForm):
    destination = RadioField(
        _l("Where do the customers go?"),
        choices=options(HANDOVER_DESTINATIONS),
        validate_choice=False,
        validators=[DataRequired(_l("Choose where the customers go."))],
    )
    to_rep = SelectField(_l("Sales rep"), validate_choice=False)

    def __init__(self, leaving: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reps = [rep for rep in User.reps() if rep.id != leaving.id]
        self.to_rep.choices = options(
            [("", _l("Choose a sales rep"))] + [(str(r.id), f"{r.display_name} ({r.username})") for r in reps]
        )
