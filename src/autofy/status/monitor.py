"""The scheduler-side loop that checks health and prunes history on their intervals."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
from sqlalchemy.exc import SQLAlchemyError

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.retention.service import RetentionPolicy, prune
from autofy.status.checker import run_checks

logger = logging.getLogger(__name__)

DefaultBases = dict[str, str]


async def run_monitor(
    database: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    default_bases: DefaultBases,
    stop: asyncio.Event,
) -> None:
    """Check health every `health_check_interval_seconds` and prune every `prune_interval_seconds`."""
    policy = RetentionPolicy.from_settings(settings)
    next_prune = time.monotonic()
    while not stop.is_set():
        try:
            await run_checks(database, http, default_bases.get)
            if time.monotonic() >= next_prune:
                result = await prune(database, policy)
                # A round that found nothing to delete is not news (it runs at every start).
                logger.log(
                    logging.INFO if result.executions or result.audit_logs else logging.DEBUG,
                    "pruned %d executions and %d audit log entries",
                    result.executions,
                    result.audit_logs,
                )
                next_prune = time.monotonic() + settings.prune_interval_seconds
        except (SQLAlchemyError, OSError):
            # The database being away is what the next round reports; the loop must outlive it.
            logger.exception("health check round failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.health_check_interval_seconds)
        except TimeoutError:
            continue
