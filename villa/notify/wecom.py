"""Staff notifications to a WeCom (企业微信) group through the group's robot: an HTTP POST of a text.

A robot lives in a group, never with one person, so the address is the group of the user's team
(set by its manager) or else the office's (set by the administrator); the text names the rep it is
for and @-mentions them when they gave their WeCom account.
"""

import json
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, Request, build_opener

from villa import settings
from villa.i18n import lazy_gettext as _l
from villa.models import NotificationPreference, User
from villa.notify.channels import Notifier, NotifierFailure, Outgoing

MAX_BYTES = 2000  # a robot takes at most 2,048 bytes of text


class _NoRedirects(HTTPRedirectHandler):
    """A robot answers where it is; a redirect (elsewhere, or to another scheme) is an error."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = build_opener(_NoRedirects)


def team_of(user: User) -> int | None:
    """The sales team a user belongs to, by its manager's id (a manager leads their own)."""
    return user.id if user.role == "manager" else user.manager_id


def robot_for(user: User) -> str:
    """The group robot this user's messages go to: their team's, else the office's; "" if none."""
    team = team_of(user)
    return (settings.read(f"wecom_webhook:{team}") if team else "") or settings.read("wecom_webhook")


class WecomNotifier(Notifier):
    channel = "wecom"

    def __init__(self, timeout: float):
        self.timeout = timeout

    @classmethod
    def from_settings(cls, timeout: float) -> "WecomNotifier":
        return cls(timeout)

    def address_for(self, user: User, preference: NotificationPreference | None) -> str:
        return robot_for(user)

    def send(self, message: Outgoing, address: str, mention: str = "") -> None:
        if not address:
            raise NotifierFailure(
                _l("No group robot is set up for this user's team or the office."), "wecom_webhook", True
            )
        request = Request(
            address,
            data=json.dumps(self._body(message, mention), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                answer = response.read(4096)
        except HTTPError as exc:
            raise NotifierFailure(
                _l("The group robot answered HTTP %(status)d.", status=exc.code), "wecom_webhook"
            ) from None
        except (TimeoutError, URLError, OSError) as exc:
            raise self._unreachable(exc) from None
        self._check_answer(answer)

    @staticmethod
    def _body(message: Outgoing, mention: str) -> dict:
        whom = f"【{message.for_whom}】" if message.for_whom else ""
        content = f"{whom}{message.subject}\n{message.text}".encode()[:MAX_BYTES].decode(errors="ignore")
        mentioned = [mention] if mention else []
        return {"msgtype": "text", "text": {"content": content, "mentioned_list": mentioned}}

    def _unreachable(self, exc: Exception) -> NotifierFailure:
        reason = exc.reason if isinstance(exc, URLError) else exc
        if isinstance(reason, TimeoutError):
            return NotifierFailure(
                _l("The group robot did not answer within %(seconds)s seconds.", seconds=f"{self.timeout:g}"),
                "wecom_webhook",
            )
        return NotifierFailure(_l("Could not reach the group robot's address."), "wecom_webhook")

    @staticmethod
    def _check_answer(answer: bytes):
        """WeCom answers 200 with {"errcode": 0} when it took the message, another errcode if not."""
        try:
            code = json.loads(answer).get("errcode")
        except (ValueError, AttributeError):
            code = None
        if code is None:
            raise NotifierFailure(_l("The address answered, but not as a group robot does."), "wecom_webhook")
        if code != 0:
            raise NotifierFailure(
                _l("The group robot refused the message (errcode %(code)s).", code=code), "wecom_webhook"
            )
