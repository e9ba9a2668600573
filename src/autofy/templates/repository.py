"""SQL for workflow templates, which every signed-in user reads and only the service writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import RowMapping, ScalarResult, Text, func, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.engine import as_service_role
from autofy.db.tables import workflow_templates
from autofy.workflows.repository import escape_like

_templates = workflow_templates.c


@dataclass(frozen=True)
class TemplateFilters:
    category: str | None = None
    difficulty: str | None = None
    featured: bool | None = None
    integration: str | None = None
    search: str | None = None


async def list_templates(
    session: AsyncSession, filters: TemplateFilters, *, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """Featured first, then the most used, then by name."""
    conditions = []
    if filters.category is not None:
        conditions.append(_templates.category == filters.category)
    if filters.difficulty is not None:
        conditions.append(_templates.difficulty == filters.difficulty)
    if filters.featured is not None:
        conditions.append(_templates.is_featured.is_(filters.featured))
    if filters.integration is not None:
        conditions.append(
            type_coerce(_templates.required_integrations, postgresql.ARRAY(Text)).contains(
                [filters.integration]
            )
        )
    if filters.search:
        pattern = f"%{escape_like(filters.search)}%"
        conditions.append(
            or_(
                _templates.name.ilike(pattern, escape="\\"),
                _templates.description.ilike(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(workflow_templates).where(*conditions))
    result = await session.execute(
        select(workflow_templates)
        .where(*conditions)
        .order_by(_templates.is_featured.desc(), _templates.use_count.desc(), _templates.name, _templates.id)
        .limit(limit)
        .offset(offset)
    )
    return list(result.mappings().all()), int(total or 0)


async def list_categories(session: AsyncSession) -> list[str]:
    categories: ScalarResult[str] = await session.scalars(
        select(_templates.category).distinct().order_by(_templates.category)
    )
    return list(categories)


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(select(workflow_templates).where(_templates.id == template_id))
    return result.mappings().one_or_none()


async def count_use(session: AsyncSession, template_id: uuid.UUID) -> None:
    """Add one to the template's `use_count`.

    Users may read templates but not write them (a user could otherwise edit a template everyone
    instantiates), so this one counter update runs as the service role, inside the user's
    transaction so that it counts only when the workflow is really created.
    """
    async with as_service_role(session):
        await session.execute(
            update(workflow_templates)
            .where(_templates.id == template_id)
            .values(use_count=func.coalesce(_templates.use_count, 0) + 1)
        )
