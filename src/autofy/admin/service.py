"""Operator actions, with the same rules the API applies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.admin import repository
from autofy.audit.schemas import RequestInfo
from autofy.auth import service as auth_service
from autofy.auth.schemas import SignUpRequest
from autofy.config import Settings
from autofy.engine.service import start_execution
from autofy.errors import NotFoundError

# Credits per period that come with each plan, unless the operator sets another limit.
PLAN_CREDITS = {"free": 1_000, "pro": 20_000, "enterprise": 200_000}
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


async def set_plan(session: AsyncSession, *, email: str, plan: str, credits_limit: int | None) -> int:
    limit = PLAN_CREDITS[plan] if credits_limit is None else credits_limit
    if not await repository.set_plan(session, email=email, plan=plan, credits_limit=limit):
        raise NotFoundError(f"No user has the email {email}.")
    return limit


async def run_workflow(session: AsyncSession, workflow_id: uuid.UUID, payload: dict[str, Any]) -> uuid.UUID:
    """A manual run started by the operator; workers pick it up."""
    return await start_execution(
        session, workflow_id=workflow_id, trigger_type="manual", trigger_data=payload
    )
