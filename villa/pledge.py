"""The confidentiality pledge: the office's rules on customer data, which every staff user reads and
accepts at the first login, again when the text changes, and again each year.

Each edit of the text is a new version (a new PledgeText row): acceptances name the version they
were given for. Until an administrator publishes a first text there is nothing to accept.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import JOIN, SQL, fn

from villa.db import db
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, PledgeAcceptance, PledgeText, User, now
from villa.prepared import Prepared, slot

ACCEPTED_FOR = timedelta(days=365)
TEXT_MAX = 5000
# A first text to start from (the admin's page offers it, the demo publishes it): the office makes
# it its own before publishing it.
STARTING_TEXT = """本人承诺遵守售楼处客户信息保密制度：
一、客户的姓名、电话、证件号码、住址、财务状况等信息仅用于为客户提供置业服务，不得用于任何其他目的。
二、不拍照、不抄录、不转发客户信息，不向公司以外的任何人（包括中介、亲友）透露客户信息。
三、只查看本人工作需要的客户信息；查看完整电话或证件号码、导出数据均有记录。
四、账号和密码仅限本人使用，离开平板电脑时退出登录。
五、发现客户信息可能泄露时，立即报告信息审核组。
违反以上规定的，公司将依照规章制度和法律追究责任。"""


class PledgeProblem(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def pending_for(user):
    """The version a user must accept, as a subquery: `user` is their id's slot(), or User.id to ask
    it for the user a query reads. Its one other argument (a slot, after any of `user`'s): the time
    after which an acceptance still holds (accepted_since())."""
    latest = PledgeText.alias()
    accepted = PledgeAcceptance.select(SQL("1")).where(
        PledgeAcceptance.pledge == PledgeText.id,
        PledgeAcceptance.user == user,
        PledgeAcceptance.accepted_at > slot(),
    )
    return PledgeText.select(PledgeText.id).where(
        PledgeText.id == latest.select(fn.MAX(latest.id)), ~fn.EXISTS(accepted)
    )


def accepted_since() -> str:
    return PledgeAcceptance.accepted_at.db_value(now() - ACCEPTED_FOR)


_pending = Prepared(lambda: pending_for(slot()))
_NOT_LOADED = object()


def pending_pledge_id(user: User) -> int | None:
    """The version this user must accept before going on, or None (accepted within the year, or
    no pledge published). The session's user comes with it, read in the same statement
    (villa.auth asks before every request); any other user is asked here."""
    loaded = getattr(user, "pending_pledge_id", _NOT_LOADED)
    if loaded is not _NOT_LOADED:
        return loaded
    return _pending.scalar(user.id, accepted_since())


def current_pledge() -> PledgeText | None:
    return PledgeText.select().order_by(PledgeText.id.desc()).first()


def last_acceptance(user: User) -> PledgeAcceptance | None:
    return (
        PledgeAcceptance.select()
        .where(PledgeAcceptance.user == user)
        .order_by(PledgeAcceptance.accepted_at.desc())
        .first()
    )


def publish(text: str, actor: User) -> PledgeText:
    """A new version of the rules: every staff user accepts it at their next request."""
    text = (text or "").strip()
    if not text:
        raise PledgeProblem(_l("Write the confidentiality rules."))
    if len(text) > TEXT_MAX:
        raise PledgeProblem(_l("At most %(max)d characters.", max=TEXT_MAX))
    current = current_pledge()
    if current is not None and current.text == text:
        raise PledgeProblem(_l("The text is unchanged: change it to publish a new version."))
    with db.atomic():
        pledge = PledgeText.create(text=text, created_by=actor)
        _audit(actor, "pledge_published", pledge, {"version": pledge.id, "characters": len(text)})
    return pledge


def accept(user: User, pledge_id: int, ip: str) -> PledgeAcceptance:
    """The user accepts the version they were shown; only the current version can be accepted."""
    current = current_pledge()
    if current is None or current.id != pledge_id:
        raise PledgeProblem(_l("The rules were changed while you read them: read the new version."))
    with db.atomic():
        acceptance = PledgeAcceptance.create(user=user, pledge=current, ip=(ip or "")[:45])
        _audit(user, "pledge_accepted", current, {"version": current.id})
    return acceptance


@dataclass
class Standing:
    """One active staff user against the current version: when they last accepted it, if ever."""

    user: User
    accepted_at: datetime | None

    @property
    def due(self) -> bool:
        return self.accepted_at is None or self.accepted_at <= now() - ACCEPTED_FOR


def standings(pledge: PledgeText) -> list[Standing]:
    """Every active user, those who must still accept the version first."""
    latest = dict(
        PledgeAcceptance.select(PledgeAcceptance.user, fn.MAX(PledgeAcceptance.accepted_at))
        .where(PledgeAcceptance.pledge == pledge)
        .group_by(PledgeAcceptance.user)
        .tuples()
    )
    users = User.select().where(User.active == True).order_by(User.role, User.username)  # noqa: E712
    found = [Standing(user, latest.get(user.id)) for user in users]
    return sorted(found, key=lambda standing: not standing.due)


def acceptances(limit: int = 500):
    """The latest acceptances, newest first, with their users and versions."""
    return (
        PledgeAcceptance.select(PledgeAcceptance, User, PledgeText.id)
        .join(User)
        .switch(PledgeAcceptance)
        .join(PledgeText)
        .order_by(PledgeAcceptance.accepted_at.desc(), PledgeAcceptance.id.desc())
        .limit(limit)
    )


def versions():
    """Every version, newest first, with how many acceptances each has."""
    return (
        PledgeText.select(PledgeText, User, fn.COUNT(PledgeAcceptance.id).alias("accepted"))
        .join(User, on=(PledgeText.created_by == User.id), join_type=JOIN.LEFT_OUTER)
        .switch(PledgeText)
        .join(PledgeAcceptance, join_type=JOIN.LEFT_OUTER)
        .group_by(PledgeText.id, User.id)
        .order_by(PledgeText.id.desc())
    )


def _audit(actor: User, action: str, pledge: PledgeText, details: dict):
    AuditLog.create(actor=actor, action=action, target=f"pledge:{pledge.id}", changes=json.dumps(details))
