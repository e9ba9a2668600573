"""Your notifications: what each one says, the list, marking read.

Notifications are created by database triggers (migration 0011_notifications) when a run fails,
an integration falls into error and credits cross 90 % of the limit; this module only reads them,
under the caller's own RLS-scoped session, and words them for the app, the API and emails.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.errors import NotFoundError
from autofy.notifications import repository
from autofy.notifications.schemas import MarkedRead, Notification, NotificationKind, NotificationPage


class NotificationNotFound(NotFoundError):
    def __init__(self, notification_id: uuid.UUID) -> None:
        super().__init__(f"You have no notification {notification_id}.")


@dataclass(frozen=True)
class Wording:
    title: str
    message: str
    link: str


def _text(details: Mapping[str, Any], key: str, default: str) -> str:
    value = details.get(key)
    return str(value) if value not in (None, "") else default


def word(kind: NotificationKind, details: Mapping[str, Any]) -> Wording:
    """What a notification says, from the facts its trigger recorded (plain text: escaping is the
    renderer's job, HTML or not)."""
    if kind == "execution_failed":
        name = _text(details, "workflow_name", "a deleted workflow")
        return Wording(
            title=f"A run of “{name}” failed",
            message=_text(details, "error_message", "The run failed without an error message."),
            link=f"/runs/{details.get('execution_id')}",
        )
    if kind == "integration_error":
        name = _text(details, "display_name", _text(details, "service_name", "An integration"))
        problem = (
            "Its access has expired or was revoked: connect it again."
            if details.get("status") == "expired"
            else "Workflows that use it will fail until it is fixed: test it or update its credentials."
        )
        reason = details.get("error_message")
        return Wording(
            title=f"{name} needs attention",
            message=f"{problem} ({reason})" if reason else problem,
            link="/integrations",
        )
    used, limit = details.get("credits_used"), details.get("credits_limit")
    return Wording(
        title=f"{used} of your {limit} credits are used",
        message="Runs are refused once the limit is reached; upgrade the plan or wait for the next period.",
        link="/",
    )


def _notification(row: Any) -> Notification:
    wording = word(row.kind, row.details or {})
    return Notification(
        id=row.id,
        kind=row.kind,
        title=wording.title,
        message=wording.message,
        link=wording.link,
        read_at=row.read_at,
        created_at=row.created_at,
    )


async def list_notifications(
    session: AsyncSession, *, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> NotificationPage:
    rows, total = await repository.list_notifications(
        session, unread_only=unread_only, limit=limit, offset=offset
    )
    return NotificationPage(
        items=[_notification(row) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
        unread=await repository.count_unread(session),
    )


async def count_unread(session: AsyncSession) -> int:
    return await repository.count_unread(session)


async def mark_read(session: AsyncSession, notification_id: uuid.UUID) -> Notification:
    row = await repository.mark_read(session, notification_id)
    if row is None:
        raise NotificationNotFound(notification_id)
    return _notification(row)


async def mark_all_read(session: AsyncSession) -> MarkedRead:
    return MarkedRead(marked=await repository.mark_all_read(session))
