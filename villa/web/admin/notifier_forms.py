"""The settings sections of the staff notification channels: the mail server and the office's WeCom
group robot. Each can send a test message with the values typed ("Test and save"); what fails is
said at the field it points at."""

from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField

from villa import settings as office
from villa.fields import options
from villa.i18n import lazy_gettext as _l
from villa.notify import checks, outbox
from villa.notify.channels import NotifierFailure
from villa.web.admin.forms import SettingsSection

SMTP_PARTS = ("host", "port", "security", "username", "sender")
SECURITY = (
    ("starttls", _l("STARTTLS (usually port 587)")),
    ("ssl", _l("SSL/TLS (usually port 465)")),
    ("none", _l("None: only to a mail relay on this machine")),
)


class EmailForm(SettingsSection):
    host = StringField(
        _l("Mail server (SMTP host)"), description=_l("Empty: staff notifications are not sent by email.")
    )
    port = IntegerField(_l("Port"))
    security = SelectField(_l("Encryption"), choices=options(SECURITY))
    username = StringField(_l("User name"), description=_l("Empty: the server takes mail without a login."))
    smtp_password = PasswordField(
        _l("Password"), description=_l("Kept encrypted, never shown. Leave empty to keep the stored one.")
    )
    sender = StringField(_l("Sender address"), description=_l("The address the emails come from."))
    recipient = StringField(
        _l("Send the test message to"), description=_l("Used only by “Test and save”; not kept.")
    )

    @classmethod
    def initial(cls, read) -> dict:
        return dict(read("smtp"))

    def to_settings(self) -> dict:
        values = {"smtp": {part: self[part].data for part in SMTP_PARTS}}
        if self.smtp_password.data:
            values["smtp_password"] = self.smtp_password.data
        return values

    def test_connection(self):
        """Send a test message with these values (the stored password when none is typed)."""
        typed = office.check(self.to_settings())
        recipient, problems = checks.email_address(self.recipient.data, "recipient")
        if not typed["smtp"]["host"]:
            problems["host"] = _l("Enter the mail server to test it.")
        elif not recipient and not problems:
            problems["recipient"] = _l("Give the address to send the test message to.")
        if problems:
            raise office.SettingProblem(problems)
        password = typed.get("smtp_password") or office.read("smtp_password")
        try:
            outbox.test_email(typed["smtp"], password, recipient)
        except NotifierFailure as failure:
            raise office.SettingProblem({failure.field or "smtp.host": failure.message}) from None
        return _l("Test message sent to %(address)s.", address=recipient)


class RobotForm(SettingsSection):
    """A WeCom group robot's address: the office's here, a team's on its manager's page."""

    wecom_webhook = StringField(_l("Group robot's webhook address"))
    remove = BooleanField(_l("Remove the stored address"))
    setting = "wecom_webhook"

    def __init__(self, *args, setting: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.setting = setting or self.setting
        stored = office.read(self.setting)
        self.wecom_webhook.description = (
            _l("Stored: %(address)s. Leave empty to keep it.", address=checks.masked_robot_address(stored))
            if stored
            else _l("In the WeCom group: Add group robot, then copy its webhook address.")
        )

    @classmethod
    def initial(cls, read) -> dict:
        return {}  # the stored address is a secret: never written back into the page

    def to_settings(self) -> dict:
        if self.remove.data:
            return {self.setting: ""}
        return {self.setting: self.wecom_webhook.data} if (self.wecom_webhook.data or "").strip() else {}

    def place(self, problems: dict):
        for message in problems.values():
            self.wecom_webhook.errors.append(message)

    def test_connection(self):
        """Post a test message to the group with the address typed, or the stored one."""
        typed = office.check(self.to_settings())
        address = "" if self.remove.data else typed.get(self.setting) or office.read(self.setting)
        if not address:
            missing = _l("Paste the group robot's webhook address to test it.")
            raise office.SettingProblem({self.setting: missing})
        try:
            outbox.test_robot(address)
        except NotifierFailure as failure:
            raise office.SettingProblem({self.setting: failure.message}) from None
        return _l("Test message posted to the group.")
