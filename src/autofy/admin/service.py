"""Operator actions, with the same rules the API applies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.admin import repository
from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.auth import service as auth_service
from autofy.auth.schemas import SignUpRequest
from autofy.config import Settings
from autofy.credits import repository as credits_repository
from autofy.credits import service as credits
from autofy.credits.schemas import CreditUsage
from autofy.engine.queue import raw_connection
from autofy.engine.service import start_execution
from autofy.errors import NotFoundError

OPERATOR = RequestInfo(ip_address=None, user_agent="autofy-cli")


async def create_user(
    session: AsyncSession, *, email: str, password: str, full_name: str | None, settings: Settings
) -> uuid.UUID:
    """An account exactly as sign-up makes one: password rules, profile, preferences, audit."""
    user = await auth_service.create_account(
        session,
        SignUpRequest(email=email, password=password, full_name=full_name),
        settings=settings,
        meta=OPERATOR,
    )
    return user.id


async def set_plan(
    session: AsyncSession, *, email: str, plan: str, credits_limit: int | None, settings: Settings
) -> int:
    """Change the plan and its allowance per period (the plan's, from the settings, unless given)."""
    limit = settings.plan_credits(plan) if credits_limit is None else credits_limit
    if not await repository.set_plan(session, email=email, plan=plan, credits_limit=limit):
        raise NotFoundError(f"No user has the email {email}.")
    return limit


async def _user_id(connection: credits_repository.Connection, email: str) -> uuid.UUID:
    user_id = await credits_repository.user_by_email(connection, email)
    if user_id is None:
        raise NotFoundError(f"No user has the email {email}.")
    return user_id


async def credit_usage(session: AsyncSession, *, email: str) -> CreditUsage:
    connection = await raw_connection(session)
    return await credits.usage(connection, await _user_id(connection, email))


async def grant_credits(session: AsyncSession, *, email: str, credits_to_grant: int) -> CreditUsage:
    """Extra credits for the user's current period, audited as the operator's."""
    connection = await raw_connection(session)
    user_id = await _user_id(connection, email)
    usage = await credits.grant(connection, user_id=user_id, credits=credits_to_grant)
    await audit.record(
        session,
        user_id=user_id,
        action="credits.grant",
        resource_type="profile",
        resource_id=user_id,
        details={
            "credits": credits_to_grant,
            "granted_this_period": usage.granted,
            "period_end": usage.period_end.isoformat(),
        },
        meta=OPERATOR,
    )
    return usage


async def run_workflow(session: AsyncSession, workflow_id: uuid.UUID, payload: dict[str, Any]) -> uuid.UUID:
    """A manual run started by the operator; workers pick it up."""
    return await start_execution(
        session, workflow_id=workflow_id, trigger_type="manual", trigger_data=payload
    )
