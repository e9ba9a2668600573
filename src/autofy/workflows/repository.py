"""SQL for workflows and their steps, on the session it is given (RLS decides whose rows are seen)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    RowMapping,
    ScalarResult,
    Text,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from autofy import pagination
from autofy.db.tables import workflow_steps, workflows

_SORT_COLUMNS = {
    "name": workflows.c.name,
    "created_at": workflows.c.created_at,
    "updated_at": workflows.c.updated_at,
    "last_executed_at": workflows.c.last_executed_at,
}


@dataclass(frozen=True)
class WorkflowFilters:
    status: str | None = None
    tag: str | None = None
    search: str | None = None


async def insert_workflow(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    result = await session.execute(insert(workflows).values(**values).returning(*workflows.c))
    return result.mappings().one()


async def insert_steps(
    session: AsyncSession, workflow_id: uuid.UUID, steps: Sequence[Mapping[str, Any]]
) -> list[RowMapping]:
    """Insert `steps` numbered 1, 2, … in the given order."""
    if not steps:
        return []
    rows = [
        {**step, "workflow_id": workflow_id, "step_order": order} for order, step in enumerate(steps, start=1)
    ]
    result = await session.execute(insert(workflow_steps).values(rows).returning(*workflow_steps.c))
    return sorted(result.mappings().all(), key=lambda row: int(row["step_order"]))


async def get_workflow(
    session: AsyncSession, workflow_id: uuid.UUID, *, lock: bool = False
) -> RowMapping | None:
    """The workflow, or None when it does not exist or is not the caller's.

    `lock` takes the row lock so concurrent changes to the same workflow's steps or status queue up
    instead of interleaving.
    """
    query = select(workflows).where(workflows.c.id == workflow_id)
    if lock:
        query = query.with_for_update()
    result = await session.execute(query)
    return result.mappings().one_or_none()


async def list_steps(session: AsyncSession, workflow_id: uuid.UUID) -> list[RowMapping]:
    result = await session.execute(
        select(workflow_steps)
        .where(workflow_steps.c.workflow_id == workflow_id)
        .order_by(workflow_steps.c.step_order)
    )
    return list(result.mappings().all())


async def list_workflows(
    session: AsyncSession,
    filters: WorkflowFilters,
    *,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    cursor: pagination.Cursor | None,
) -> tuple[list[RowMapping], int]:
    """One page of the caller's workflows and the number matching the filters."""
    conditions = []
    if filters.status is not None:
        conditions.append(workflows.c.status == filters.status)
    if filters.tag is not None:
        conditions.append(type_coerce(workflows.c.tags, postgresql.ARRAY(Text)).contains([filters.tag]))
    if filters.search:
        pattern = f"%{escape_like(filters.search)}%"
        conditions.append(
            or_(
                workflows.c.name.ilike(pattern, escape="\\"),
                workflows.c.description.ilike(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(workflows).where(*conditions))
    query = pagination.one_page(
        select(workflows).where(*conditions),
        _SORT_COLUMNS[sort],
        workflows.c.id,
        descending=descending,
        cursor=cursor,
        limit=limit,
        offset=offset,
    )
    result = await session.execute(query)
    return list(result.mappings().all()), int(total or 0)


async def list_tags(session: AsyncSession) -> list[str]:
    """Every tag on the caller's workflows, in alphabetical order."""
    tag = func.unnest(workflows.c.tags).label("tag")
    tags: ScalarResult[str] = await session.scalars(select(tag).distinct().order_by(tag))
    return [str(name) for name in tags]


async def workflows_using(
    session: AsyncSession, service_name: str, integration_id: uuid.UUID
) -> list[RowMapping]:
    """The caller's workflows with a step of `service_name`, or a step naming the integration by
    `configuration.integration_id` (HTTP credentials), by name."""
    uses = or_(
        workflow_steps.c.service_name == service_name,
        workflow_steps.c.configuration["integration_id"].astext == str(integration_id),
    )
    result = await session.execute(
        select(workflows.c.id, workflows.c.name, workflows.c.status)
        .where(workflows.c.id.in_(select(workflow_steps.c.workflow_id).where(uses)))
        .order_by(workflows.c.name, workflows.c.id)
    )
    return list(result.mappings().all())


async def workflow_names(session: AsyncSession, *, limit: int) -> list[tuple[uuid.UUID, str]]:
    """The caller's workflows' ids and names, by name: what a menu of workflows needs, no more."""
    result = await session.execute(
        select(workflows.c.id, workflows.c.name).order_by(workflows.c.name, workflows.c.id).limit(limit)
    )
    return [(row.id, row.name) for row in result]


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (with `escape='\\'`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def update_workflow(
    session: AsyncSession, workflow_id: uuid.UUID, values: Mapping[str, Any]
) -> RowMapping:
    result = await session.execute(
        update(workflows).where(workflows.c.id == workflow_id).values(**values).returning(*workflows.c)
    )
    return result.mappings().one()


async def touch_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> None:
    """Bump `updated_at` (set by the table's trigger) after a change to the workflow's steps."""
    await session.execute(
        update(workflows).where(workflows.c.id == workflow_id).values(name=workflows.c.name)
    )


async def delete_workflow(session: AsyncSession, workflow_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(workflows).where(workflows.c.id == workflow_id).returning(workflows.c.id)
    )
    return result.scalar_one_or_none() is not None


async def get_step(session: AsyncSession, workflow_id: uuid.UUID, step_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(
        select(workflow_steps).where(
            workflow_steps.c.workflow_id == workflow_id, workflow_steps.c.id == step_id
        )
    )
    return result.mappings().one_or_none()


async def insert_step(
    session: AsyncSession, workflow_id: uuid.UUID, step_order: int, values: Mapping[str, Any]
) -> RowMapping:
    result = await session.execute(
        insert(workflow_steps)
        .values(**values, workflow_id=workflow_id, step_order=step_order)
        .returning(*workflow_steps.c)
    )
    return result.mappings().one()


async def update_step(session: AsyncSession, step_id: uuid.UUID, values: Mapping[str, Any]) -> RowMapping:
    result = await session.execute(
        update(workflow_steps)
        .where(workflow_steps.c.id == step_id)
        .values(**values)
        .returning(*workflow_steps.c)
    )
    return result.mappings().one()


async def delete_step(session: AsyncSession, step_id: uuid.UUID) -> None:
    await session.execute(delete(workflow_steps).where(workflow_steps.c.id == step_id))


async def renumber_steps(
    session: AsyncSession, workflow_id: uuid.UUID, new_orders: Mapping[uuid.UUID, int]
) -> None:
    """Move the steps named in `new_orders` to their new `step_order`.

    UNIQUE(workflow_id, step_order) is checked row by row (it is not deferrable), so moving steps
    in one statement can collide midway. Two statements never do: the first parks every moved step
    on the negative of its new order (no step holds a negative order), the second flips the signs.
    """
    if not new_orders:
        return
    position = case(
        *((workflow_steps.c.id == step_id, literal(order)) for step_id, order in new_orders.items()),
        else_=workflow_steps.c.step_order,
    )
    await session.execute(
        update(workflow_steps)
        .where(workflow_steps.c.workflow_id == workflow_id, workflow_steps.c.id.in_(list(new_orders)))
        .values(step_order=-position)
    )
    await session.execute(
        update(workflow_steps)
        .where(workflow_steps.c.workflow_id == workflow_id, workflow_steps.c.step_order < 0)
        .values(step_order=-workflow_steps.c.step_order)
    )
