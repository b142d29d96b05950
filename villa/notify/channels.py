"""The Notifier interface: one way a staff notification leaves the building.

The inbox is no Notifier: the notification row is the inbox entry. Each Notifier sends one text
to one address and raises NotifierFailure when that did not work; the outbox (villa.notify.outbox)
decides about retries. A new channel is a subclass here and an entry in villa.notify.outbox.NOTIFIERS.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from villa.models import NotificationPreference, User

TIMEOUT_SECONDS = 10  # one attempt waits at most this long for the server (NOTIFY_TIMEOUT_SECONDS)


@dataclass
class Outgoing:
    """A text as it leaves the building: masked customer names only (villa.notify.messages)."""

    key: str  # names this message on this channel, for ever: the email's Message-ID
    subject: str
    text: str
    for_whom: str = ""  # the staff user it is for, so a team group knows whose it is


class NotifierFailure(Exception):
    """It did not go out. `message` is safe to show and to keep (no personal data); `field` names
    the setting to fix (its path in villa.settings, or "recipient"); `permanent`: trying again
    without a change cannot help."""

    def __init__(self, message, field: str = "", permanent: bool = False):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.permanent = permanent


class Notifier(ABC):
    channel = ""

    @abstractmethod
    def address_for(self, user: User, preference: NotificationPreference | None) -> str:
        """Where this user's messages go through this channel; "" when nowhere is set up."""

    @abstractmethod
    def send(self, message: Outgoing, address: str, mention: str = "") -> None:
        """Send it, or raise NotifierFailure."""
