"""The credit rules as the rest of Autofy uses them: reserve before a run or a turn starts (or be
refused with a message that says when credits reset and how to get more), settle when it ends,
grant extra credits, show the period's usage.

The rules themselves are SQL functions (see `repository`); callers pass the asyncpg connection of
their transaction, running as the service role.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.credits import repository
from autofy.credits.repository import Connection, Purpose
from autofy.credits.schemas import CreditUsage
from autofy.db.engine import as_service_role
from autofy.engine.queue import raw_connection
from autofy.errors import NotFoundError, PaymentRequiredError

GET_MORE = (
    "To get more now, ask your Autofy operator to grant extra credits "
    "(`autofy users grant-credits EMAIL N`) or to move you to a larger plan."
)


class CreditsExhausted(PaymentRequiredError):
    """402: the credits left in this period do not cover what a run or a message may use."""


def _usage_from(row: repository.Row) -> CreditUsage:
    total = row["credits_limit"] + row["credits_granted"]
    return CreditUsage(
        plan_type=row["plan_type"] or "free",
        period_start=row["period_start"],
        period_end=row["period_end"],
        allowance=row["credits_limit"],
        granted=row["credits_granted"],
        used=row["credits_used"],
        reserved=row["credits_reserved"],
        remaining=max(total - row["credits_used"] - row["credits_reserved"], 0),
    )


async def usage(connection: Connection, user_id: uuid.UUID) -> CreditUsage:
    row = await repository.usage(connection, user_id)
    if row is None:
        raise NotFoundError("The profile does not exist.")
    return _usage_from(row)


async def reserve(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    reservation_id: uuid.UUID,
    credits: int,
    purpose: Purpose,
    what: str,
    expires_at: datetime | None = None,
) -> None:
    """Reserve the most `what` (a run, a message) may use, or raise `CreditsExhausted`."""
    if await repository.reserve(
        connection,
        user_id=user_id,
        reservation_id=reservation_id,
        credits=credits,
        purpose=purpose,
        expires_at=expires_at,
    ):
        return
    raise refusal(await usage(connection, user_id), credits=credits, what=what)


def refusal(current: CreditUsage, *, credits: int, what: str) -> CreditsExhausted:
    """Why `what`, which may use up to `credits`, cannot start with the credits of `current`."""
    return CreditsExhausted(
        f"Not enough credits left to start {what}: it may use up to {credits}, and "
        f"{current.remaining} of this period's {current.allowance + current.granted} remain "
        f"({current.used} used, {current.reserved} held by runs and messages in progress). "
        f"Credits reset on {current.period_end:%Y-%m-%d at %H:%M} UTC. {GET_MORE}"
    )


async def settle(connection: Connection, *, user_id: uuid.UUID, reservation_id: uuid.UUID, used: int) -> int:
    """Charge what was used (at most what was reserved) and return the rest; what was charged."""
    return await repository.settle(connection, user_id=user_id, reservation_id=reservation_id, used=used)


async def grant(connection: Connection, *, user_id: uuid.UUID, credits: int) -> CreditUsage:
    """Extra credits for the user's current period; the usage after it."""
    if credits <= 0:
        raise ValueError("a grant is a positive number of credits")
    await repository.grant(connection, user_id=user_id, credits=credits)
    return await usage(connection, user_id)


def expiry(after: timedelta) -> datetime:
    """When a reservation taken now lapses if it is never settled (its transaction rolled back)."""
    return datetime.now(UTC) + after


async def own_usage(session: AsyncSession, user_id: uuid.UUID) -> CreditUsage:
    """The caller's usage, from their own (RLS-scoped) transaction."""
    # The credit functions are the service role's; the row is the caller's own profile.
    async with as_service_role(session):
        return await usage(await raw_connection(session), user_id)
