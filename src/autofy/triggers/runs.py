"""Starting the runs that schedules and polls fire, where nobody is waiting for an answer."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.engine.service import start_execution
from autofy.errors import DomainError
from autofy.triggers import repository

logger = logging.getLogger(__name__)


async def start_or_record(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID,
    trigger_type: str,
    trigger_data: dict[str, Any],
    dedupe_key: str,
) -> uuid.UUID | None:
    """Start a run; when the engine refuses it (credits used up, trigger data too large), record
    the refusal as a failed execution instead, so it is never silent. The run's id, or None."""
    try:
        # A savepoint: a refused start leaves nothing behind in the caller's transaction.
        async with session.begin_nested():
            return await start_execution(
                session,
                workflow_id=workflow_id,
                trigger_type=trigger_type,
                trigger_data=trigger_data,
                dedupe_key=dedupe_key,
            )
    except DomainError as refusal:
        logger.info("workflow %s: %s run not started: %s", workflow_id, trigger_type, refusal.message)
        await repository.record_refused_execution(
            session,
            workflow_id=workflow_id,
            trigger_type=trigger_type,
            # Data the engine refused (too large, or not storable) is not stored again.
            trigger_data=trigger_data if refusal.status_code not in (413, 422) else {},
            error_message=refusal.message,
            dedupe_key=dedupe_key,
        )
        return None
