"""What the notification settings accept: each check takes a value and the path of its field and
returns (typed value, {path: message}), as villa.settings expects."""

import ipaddress
import re
from urllib.parse import parse_qs, urlsplit

from villa.i18n import lazy_gettext as _l

HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
EMAIL_ADDRESS = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
WECOM_USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def is_this_machine(host: str) -> bool:
    """localhost, 127.0.0.1, ::1: a plain (unencrypted) connection there never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def host_name(value, path):
    """The mail server's host name or address, or nothing (email not set up)."""
    host = _text(value)
    if host and not (len(host) <= 253 and (HOST_NAME.match(host) or _is_ip(host))):
        return None, {path: _l("Enter the mail server's host name, e.g. smtp.exmail.qq.com.")}
    return host, {}


def email_address(value, path):
    """An email address, or nothing."""
    address = _text(value)
    if address and not (len(address) <= 120 and EMAIL_ADDRESS.match(address)):
        return None, {path: _l("Enter an email address such as li.na@example.com.")}
    return address, {}


def user_name(value, path):
    """The mail server's user name: one line, or nothing (no login)."""
    name = _text(value)
    if len(name) > 100 or any(ord(c) < 32 for c in name):
        return None, {path: _l("At most %(max)d characters on one line.", max=100)}
    return name, {}


def smtp_password(value, path):
    password = value if isinstance(value, str) else ""
    if len(password) > 200 or any(ord(c) < 32 for c in password):
        return None, {path: _l("At most %(max)d characters on one line.", max=200)}
    return password, {}


def wecom_user_id(value, path):
    """A WeCom account (userid) to @-mention in the group, or nothing."""
    user_id = _text(value)
    if user_id and not WECOM_USER_ID.match(user_id):
        return None, {path: _l("Letters, digits and _ . @ - only, as WeCom shows the account.")}
    return user_id, {}


def robot_address(value, path):
    """A WeCom group robot's webhook address (…/cgi-bin/webhook/send?key=…), or nothing."""
    url = _text(value)
    if not url:
        return "", {}
    whole = _l("Paste the group robot's whole webhook address, as WeCom shows it.")
    if len(url) > 500 or any(c.isspace() for c in url):
        return None, {path: whole}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, {path: whole}
    if parts.scheme == "http" and not is_this_machine(parts.hostname):
        return None, {path: _l("The address must start with https:// (plain http only to this machine).")}
    if not parse_qs(parts.query).get("key"):
        return None, {path: _l("The address has no key=…: copy the group robot's whole webhook address.")}
    return url, {}


def masked_robot_address(url: str) -> str:
    """What a page shows of a stored robot address: the host and the key's last four characters."""
    parts = urlsplit(url)
    key = (parse_qs(parts.query).get("key") or [""])[0]
    return f"{parts.scheme}://{parts.hostname}/…?key=…{key[-4:]}"


def smtp_cross_check(smtp: dict, path: str) -> dict:
    """What the mail server's parts ask of each other."""
    problems = {}
    if smtp["host"] and not smtp["sender"]:
        problems[f"{path}.sender"] = _l("Give the address the emails come from.")
    if smtp["host"] and smtp["security"] == "none" and not is_this_machine(smtp["host"]):
        problems[f"{path}.security"] = _l(
            "Without encryption only to a mail relay on this machine (localhost): choose STARTTLS or SSL."
        )
    return problems
