"""Staff notifications by email, through the office's mail server (smtplib)."""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from villa import settings
from villa.i18n import lazy_gettext as _l
from villa.models import NotificationPreference, User
from villa.notify.channels import Notifier, NotifierFailure, Outgoing


class EmailNotifier(Notifier):
    channel = "email"

    def __init__(self, server: dict, password: str, timeout: float):
        self.server, self.password, self.timeout = server, password, timeout

    @classmethod
    def from_settings(cls, timeout: float) -> "EmailNotifier":
        return cls(settings.read("smtp"), settings.read("smtp_password"), timeout)

    def address_for(self, user: User, preference: NotificationPreference | None) -> str:
        return preference.email if preference else ""

    def send(self, message: Outgoing, address: str, mention: str = "") -> None:
        if not self.server["host"]:
            raise NotifierFailure(
                _l("Email is not set up: the administrator enters the mail server in the settings."),
                "smtp.host",
                permanent=True,
            )
        if not address:
            raise NotifierFailure(_l("The user has no email address."), "recipient", permanent=True)
        try:
            with self._connect() as smtp:
                if self.server["username"]:
                    smtp.login(self.server["username"], self.password)
                smtp.send_message(self._email(message, address))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the admin
            raise self._failure(exc) from None

    def _email(self, message: Outgoing, address: str) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.server["sender"]
        email["To"] = address
        email["Date"] = formatdate(localtime=False, usegmt=True)
        # The same message keeps its Message-ID however often it is tried: mail programs show one.
        email["Message-ID"] = f"<{message.key}@{self.server['sender'].rpartition('@')[2]}>"
        email.set_content(message.text)
        return email

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self.server["host"], self.server["port"], self.server["security"]
        if security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(host, port, timeout=self.timeout)
        if security == "starttls":
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _failure(self, exc: Exception) -> NotifierFailure:
        """What went wrong, for the admin, and which setting it points at. Never the server's own
        words: they may quote the addresses."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return NotifierFailure(_l("The mail server refused the user name or password."), "smtp_password")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return NotifierFailure(
                _l("The mail server does not offer this: check the encryption and the user name."),
                "smtp.security",
            )
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return NotifierFailure(_l("The mail server refused the sender address."), "smtp.sender")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return NotifierFailure(_l("The mail server refused the recipient's address."), "recipient")
        if isinstance(exc, smtplib.SMTPResponseException):
            return NotifierFailure(
                _l("The mail server answered with code %(code)d.", code=exc.smtp_code), "smtp.host"
            )
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return NotifierFailure(
                _l("The encrypted connection failed: check the encryption and the port."), "smtp.security"
            )
        if isinstance(exc, TimeoutError):
            return NotifierFailure(
                _l("The mail server did not answer within %(seconds)s seconds.", seconds=f"{self.timeout:g}"),
                "smtp.host",
            )
        if isinstance(exc, smtplib.SMTPException):
            return NotifierFailure(_l("The mail server broke off the conversation."), "smtp.host")
        if isinstance(exc, OSError):
            return NotifierFailure(
                _l("Could not connect to the mail server %(host)s, port %(port)d.",
                   host=self.server["host"], port=self.server["port"]),
                "smtp.host",
            )  # fmt: skip
        return NotifierFailure(_l("Sending failed (%(error)s).", error=exc.__class__.__name__), "smtp.host")
