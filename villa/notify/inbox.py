"""The inbox: every staff user's notifications, newest first, and the bell's count of the unread."""

from dataclasses import dataclass

from villa.clock import now
from villa.models import Notification, User
from villa.notify.messages import texts

PAGE_SIZE = 30


@dataclass
class Entry:
    """One notification as the inbox shows it, its text in the viewer's language."""

    notification: Notification
    title: str
    body: str

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


def unread_count(user: User) -> int:
    return (
        Notification.select().where(Notification.recipient == user.id, Notification.read_at.is_null()).count()
    )


def inbox_page(user: User, before: int | None = None) -> tuple[list[Entry], int | None]:
    """One page of the user's notifications, newest first; and the id to read on from, or None."""
    query = Notification.select().where(Notification.recipient == user.id)
    if before:
        query = query.where(Notification.id < before)
    rows = list(query.order_by(Notification.id.desc()).limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return [entry(row) for row in rows], (rows[-1].id if more else None)


def entry(notification: Notification) -> Entry:
    title, body = texts(notification)
    return Entry(notification, title, body)


def mark_read(user: User, notification_id: int) -> Notification | None:
    """Mark one of the user's notifications read; None when it is not theirs."""
    Notification.update(read_at=now()).where(
        Notification.id == notification_id,
        Notification.recipient == user.id,
        Notification.read_at.is_null(),
    ).execute()
    return Notification.get_or_none(Notification.id == notification_id, Notification.recipient == user.id)


def mark_all_read(user: User) -> int:
    return (
        Notification.update(read_at=now())
        .where(Notification.recipient == user.id, Notification.read_at.is_null())
        .execute()
    )
