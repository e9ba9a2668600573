"""The credit rules' SQL: calls of the functions 0010_credit_periods defines, the one place the
rules live (reserve, settle, grant, usage, period roll-over). The engine's finishing statement
settles a run's reservation with the same `public.settle_credits`.

On an asyncpg connection (the engine's, or `raw_connection(session)` under a SQLAlchemy
transaction). The functions are the service role's: callers acting for a user switch roles for
the call (`as_service_role`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Row = asyncpg.Record
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
Purpose = Literal["execution", "chat_turn"]


async def reserve(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    reservation_id: uuid.UUID,
    credits: int,
    purpose: Purpose,
    expires_at: datetime | None = None,
) -> bool:
    """Reserve `credits` atomically; False (nothing reserved) when the allowance left is smaller."""
    reserved: bool = await connection.fetchval(
        "select public.reserve_credits($1, $2, $3, $4, $5)",
        user_id,
        reservation_id,
        credits,
        purpose,
        expires_at,
    )
    return reserved


async def settle(connection: Connection, *, user_id: uuid.UUID, reservation_id: uuid.UUID, used: int) -> int:
    """Charge what was used (at most what was reserved), return the rest; the credits charged."""
    charged: int = await connection.fetchval(
        "select public.settle_credits($1, $2, $3)", user_id, reservation_id, used
    )
    return charged


async def grant(connection: Connection, *, user_id: uuid.UUID, credits: int) -> None:
    await connection.execute("select public.grant_credits($1, $2)", user_id, credits)


async def usage(connection: Connection, user_id: uuid.UUID) -> Row | None:
    """plan_type, period_start, period_end, credits_limit, credits_granted, credits_used,
    credits_reserved: the period brought up to date, lapsed reservations released."""
    row: Row | None = await connection.fetchrow("select * from public.credits_usage($1)", user_id)
    return row


async def user_by_email(connection: Connection, email: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await connection.fetchval(
        "select id from public.profiles where lower(email) = lower($1)", email
    )
    return found
