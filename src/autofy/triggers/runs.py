"""Starting the runs that schedules and polls fire, where nobody is waiting for an answer."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.engine.service import PreparedStarts, StartRequest, prepare_starts, start_prepared
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
    [started] = await start_or_record_many(
        session, [StartRequest(workflow_id, trigger_type, trigger_data, dedupe_key)]
    )
    return started


async def start_or_record_many(session: AsyncSession, requests: list[StartRequest]) -> list[uuid.UUID | None]:
    """`start_or_record` for many runs in a few statements (a scheduler's batch): each run's id,
    or None for a refused one, in order. Each request needs its `dedupe_key`, so a refusal is
    recorded once however often it is retried."""
    return await start_or_record_prepared(session, await prepare_starts(session, requests))


async def start_or_record_prepared(session: AsyncSession, prepared: PreparedStarts) -> list[uuid.UUID | None]:
    """`start_or_record_many` for requests prepared earlier in this transaction (`prepare_starts`)."""
    results = await start_prepared(session, prepared)
    refusals: list[repository.RefusedRun] = []
    for request, result in zip(prepared.requests, results, strict=True):
        if not isinstance(result, DomainError):
            continue
        logger.info(
            "workflow %s: %s run not started: %s", request.workflow_id, request.trigger_type, result.message
        )
        assert request.dedupe_key is not None
        refusals.append(
            repository.RefusedRun(
                workflow_id=request.workflow_id,
                trigger_type=request.trigger_type,
                # Data the engine refused (too large, or not storable) is not stored again.
                trigger_data=request.trigger_data if result.status_code not in (413, 422) else {},
                error_message=result.message,
                dedupe_key=request.dedupe_key,
            )
        )
    await repository.record_refused_executions(session, refusals)
    return [None if isinstance(result, DomainError) else result for result in results]
