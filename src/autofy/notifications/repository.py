"""SQL for notifications. Reads and marks run as the user (RLS: their own, in-app ones); the email
job's statements run as the service, on the one row its job names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.notifications.tables import USER_COLUMNS, notifications

_c = notifications.c


async def list_notifications(
    session: AsyncSession, *, unread_only: bool, limit: int, offset: int
) -> tuple[Sequence[Row[Any]], int]:
    statement = select(*USER_COLUMNS)
    if unread_only:
        statement = statement.where(_c.read_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = (
        await session.execute(
            statement.order_by(_c.created_at.desc(), _c.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    return rows, int(total or 0)


async def count_unread(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(_c.read_at.is_(None))) or 0)


async def mark_read(session: AsyncSession, notification_id: uuid.UUID) -> Row[Any] | None:
    # coalesce: marking twice keeps the first time it was read.
    statement = (
        update(notifications)
        .where(_c.id == notification_id)
        .values(read_at=func.coalesce(_c.read_at, func.now()))
        .returning(*USER_COLUMNS)
    )
    return (await session.execute(statement)).one_or_none()


async def mark_all_read(session: AsyncSession) -> int:
    result = await session.execute(
        update(notifications).where(_c.read_at.is_(None)).values(read_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the email job (service role) ------------------------------------------------------------

_CLAIM_EMAIL = text(
    """
    select n.id, n.user_id, n.kind, n.subject_id, n.details, n.created_at, n.email_status, n.read_at,
           p.email
    from public.notifications n
    join public.profiles p on p.id = n.user_id
    where n.id = :id
    for update of n
    """
)

# Two failures of one workflow finishing at the same moment both queue an email (neither saw the
# other's row); the one whose job runs second finds the first sending or sent and stands down.
_EMAILED_WITHIN_THE_HOUR = text(
    """
    select exists (
        select from public.notifications n
        where n.user_id = :user_id and n.subject_id = :subject_id and n.kind = :kind
          and n.id <> :id and n.email_status in ('sending', 'sent')
          and n.created_at > cast(:created_at as timestamptz) - interval '1 hour'
    )
    """
)


async def claim_email(session: AsyncSession, notification_id: uuid.UUID) -> Row[Any] | None:
    """The notification and its owner's address, locked; None once it is gone (pruned, deleted)."""
    return (await session.execute(_CLAIM_EMAIL, {"id": notification_id})).one_or_none()


async def lock_subject(session: AsyncSession, user_id: uuid.UUID, subject_id: uuid.UUID) -> None:
    """Serialize the email decisions about one subject until the transaction ends."""
    await session.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"notification-email:{user_id}:{subject_id}"},
    )


async def emailed_within_the_hour(session: AsyncSession, claimed: Row[Any]) -> bool:
    return bool(
        await session.scalar(
            _EMAILED_WITHIN_THE_HOUR,
            {
                "id": claimed.id,
                "user_id": claimed.user_id,
                "subject_id": claimed.subject_id,
                "kind": claimed.kind,
                "created_at": claimed.created_at,
            },
        )
    )


async def set_email_status(session: AsyncSession, notification_id: uuid.UUID, status: str) -> None:
    values: dict[str, Any] = {"email_status": status}
    if status == "sent":
        values["emailed_at"] = func.now()
    await session.execute(update(notifications).where(_c.id == notification_id).values(**values))
