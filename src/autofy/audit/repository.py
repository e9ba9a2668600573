"""SQL for audit_logs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, cast, func, insert, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.engine import as_service_role
from autofy.db.tables import audit_logs


async def insert_as_service(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert one row as `service_role` (`as_service_role`), then give the transaction its role back.

    Only the service role may write audit logs (a user must not be able to forge or flood their
    own trail), yet the row belongs to the caller's transaction so it commits or rolls back with
    the change it records. The connecting role is a member of service_role, so the switch is
    allowed for the server and for nobody who only holds a user's token.
    """
    async with as_service_role(session):
        await session.execute(insert(audit_logs).values(**values))


def _filters(
    *, action: str | None, resource_type: str | None, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if action is not None:
        conditions.append(audit_logs.c.action == action)
    if resource_type is not None:
        conditions.append(audit_logs.c.resource_type == resource_type)
    if since is not None:
        conditions.append(audit_logs.c.created_at >= since)
    if until is not None:
        conditions.append(audit_logs.c.created_at < until)
    return conditions


async def list_logs(
    session: AsyncSession,
    *,
    action: str | None,
    resource_type: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Row[Any]], int]:
    """The caller's rows (RLS), newest first, and how many match in all."""
    conditions = _filters(action=action, resource_type=resource_type, since=since, until=until)
    rows = (
        await session.execute(
            select(
                audit_logs.c.id,
                audit_logs.c.action,
                audit_logs.c.resource_type,
                audit_logs.c.resource_id,
                audit_logs.c.details,
                func.host(audit_logs.c.ip_address).label("ip_address"),
                audit_logs.c.user_agent,
                audit_logs.c.created_at,
            )
            .where(*conditions)
            .order_by(audit_logs.c.created_at.desc(), audit_logs.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    total = await session.scalar(select(func.count()).select_from(audit_logs).where(*conditions))
    return rows, int(total or 0)


async def count_recent_sign_in_failures(
    session: AsyncSession, *, email: str, ip_address: str | None, since: datetime, action: str
) -> tuple[int, datetime | None, int, datetime | None]:
    """(failures for the email, the oldest of them, failures from the IP, the oldest of them)."""
    base = (audit_logs.c.action == action, audit_logs.c.created_at >= since)
    by_email = (
        await session.execute(
            select(func.count(), func.min(audit_logs.c.created_at)).where(
                *base, audit_logs.c.details["email"].astext == email
            )
        )
    ).one()
    if ip_address is None:
        return int(by_email[0]), by_email[1], 0, None
    by_ip = (
        await session.execute(
            select(func.count(), func.min(audit_logs.c.created_at)).where(
                *base, audit_logs.c.ip_address == cast(ip_address, INET)
            )
        )
    ).one()
    return int(by_email[0]), by_email[1], int(by_ip[0]), by_ip[1]
