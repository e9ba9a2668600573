"""Starting executions the way triggers do."""

from __future__ import annotations

import uuid
from typing import Any

from autofy.db import tables
from autofy.db.engine import Database
from autofy.engine.service import start_execution
from tests import factories
from tests.factories import User, Workflow


async def create_user(database: Database, *, credits_used: int = 0, credits_limit: int = 1000) -> User:
    """An account whose profile has the given credits."""
    user = await factories.create_user(database)
    async with database.service_session() as session:
        await session.execute(
            tables.profiles.update()
            .where(tables.profiles.c.id == user.id)
            .values(credits_used=credits_used, credits_limit=credits_limit)
        )
    return user


async def start(
    database: Database,
    workflow: Workflow,
    trigger_data: dict[str, Any] | None = None,
    *,
    trigger_type: str = "manual",
    dedupe_key: str | None = None,
) -> uuid.UUID:
    # Triggers start executions in a service-role transaction.
    async with database.service_session() as session:
        return await start_execution(
            session,
            workflow_id=workflow.id,
            trigger_type=trigger_type,
            trigger_data=trigger_data or {},
            dedupe_key=dedupe_key,
        )
