"""Operator queries. They run as the service role: an operator looks across every tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db import tables

profiles = tables.profiles
workflows = tables.workflows
executions = tables.workflow_executions


async def list_users(session: AsyncSession, *, limit: int) -> Sequence[Row[Any]]:
    workflow_count = select(func.count()).where(workflows.c.user_id == profiles.c.id).scalar_subquery()
    query = (
        select(
            profiles.c.id,
            profiles.c.email,
            profiles.c.full_name,
            profiles.c.plan_type,
            profiles.c.credits_used,
            profiles.c.credits_limit,
            profiles.c.created_at,
            workflow_count.label("workflows"),
        )
        .order_by(profiles.c.created_at)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def set_plan(session: AsyncSession, *, email: str, plan: str, credits_limit: int) -> bool:
    result = await session.execute(
        update(profiles)
        .where(func.lower(profiles.c.email) == email.lower())
        .values(plan_type=plan, credits_limit=credits_limit)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_workflows(
    session: AsyncSession, *, email: str | None, status: str | None, limit: int
) -> Sequence[Row[Any]]:
    query = (
        select(
            workflows.c.id,
            workflows.c.name,
            workflows.c.status,
            workflows.c.trigger_type,
            profiles.c.email,
            workflows.c.total_executions,
            workflows.c.successful_executions,
            workflows.c.failed_executions,
            workflows.c.last_executed_at,
        )
        .join(profiles, profiles.c.id == workflows.c.user_id)
        .order_by(workflows.c.created_at.desc())
        .limit(limit)
    )
    if email is not None:
        query = query.where(func.lower(profiles.c.email) == email.lower())
    if status is not None:
        query = query.where(workflows.c.status == status)
    return (await session.execute(query)).all()


async def list_executions(
    session: AsyncSession, *, workflow_id: uuid.UUID | None, status: str | None, limit: int
) -> Sequence[Row[Any]]:
    query = (
        select(
            executions.c.id,
            workflows.c.name.label("workflow"),
            executions.c.execution_status,
            executions.c.started_at,
            executions.c.duration,
            executions.c.completed_steps,
            executions.c.total_steps,
            executions.c.error_message,
        )
        .join(workflows, workflows.c.id == executions.c.workflow_id)
        .order_by(executions.c.started_at.desc())
        .limit(limit)
    )
    if workflow_id is not None:
        query = query.where(executions.c.workflow_id == workflow_id)
    if status is not None:
        query = query.where(executions.c.execution_status == status)
    return (await session.execute(query)).all()


async def get_execution(session: AsyncSession, execution_id: uuid.UUID) -> Row[Any] | None:
    query = (
        select(
            executions.c.id,
            executions.c.workflow_id,
            workflows.c.name.label("workflow"),
            profiles.c.email,
            executions.c.execution_status,
            executions.c.started_at,
            executions.c.completed_at,
            executions.c.duration,
            executions.c.total_steps,
            executions.c.completed_steps,
            executions.c.failed_steps,
            executions.c.credits_used,
            executions.c.error_message,
            executions.c.step_results,
            executions.c.trigger_data,
        )
        .join(workflows, workflows.c.id == executions.c.workflow_id)
        .join(profiles, profiles.c.id == executions.c.user_id)
        .where(executions.c.id == execution_id)
    )
    return (await session.execute(query)).one_or_none()


async def latest_status(session: AsyncSession) -> Sequence[Row[Any]]:
    status = tables.system_status
    query = (
        select(
            status.c.service_name,
            status.c.status,
            status.c.response_time,
            status.c.error_message,
            status.c.checked_at,
        )
        .distinct(status.c.service_name)
        .order_by(status.c.service_name, status.c.checked_at.desc())
    )
    return (await session.execute(query)).all()
