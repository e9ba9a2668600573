"""The scheduler: fires due schedules and runs due polls. Any number may run at once, on any
machines; they coordinate only through PostgreSQL.

A schedule's slot is claimed with `FOR UPDATE SKIP LOCKED` and moved on (`next_fire_at`) in the
transaction that starts its run, whose dedupe key names the slot: two schedulers never fire one
slot twice, and a crash between the two leaves neither. A claimed batch starts in a few
statements whatever its size (`runs.start_or_record_many`). Polls work the same way (see polling.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from autofy.config import Settings
from autofy.connectors.catalog import Schedule
from autofy.db.engine import Database
from autofy.engine.service import StartRequest
from autofy.observability import metrics
from autofy.triggers import repository
from autofy.triggers.polling import ConnectorAccess, poll_due
from autofy.triggers.runs import start_or_record_many
from autofy.triggers.schedule import DueSlot, due_slot

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# How often a scheduler looks for due polls, and the longest it waits between two looks for due
# schedules (it wakes at the next slot when that comes sooner).
TICK_SECONDS = 1.0
# The shortest wait between two looks for due schedules.
MIN_WAIT_SECONDS = 0.02
# Schedules claimed per transaction; after a full batch the scheduler claims again at once.
SCHEDULE_BATCH = 250
# Batches one scheduler fires at once (each a transaction and a pooled connection).
SCHEDULE_BATCHES_AT_ONCE = 4


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Firing:
    """A claimed schedule's run to start, and where the schedule moves on to."""

    request: StartRequest
    slot: repository.FiredSlot


def _firings(due: list[repository.StoredSchedule], now: datetime) -> list[_Firing]:
    # Schedules due together mostly share their expression, zone and slot (every minute, on the
    # hour): each distinct one is worked out once, not once per schedule (croniter costs ~0.1 ms).
    slots: dict[tuple[str, str, datetime], tuple[DueSlot, str]] = {}
    firings = []
    for stored in due:
        key = (stored.expression, stored.timezone, stored.next_fire_at)
        if key not in slots:
            zone = ZoneInfo(stored.timezone)
            slot = due_slot(Schedule(stored.expression, zone), stored.next_fire_at, now)
            slots[key] = (slot, slot.scheduled_for.astimezone(zone).isoformat())
        slot, scheduled_for = slots[key]
        request = StartRequest(
            workflow_id=stored.workflow_id,
            trigger_type="scheduled",
            trigger_data={
                "scheduled_for": scheduled_for,
                "timezone": stored.timezone,
                "missed_slots": slot.missed_slots,
            },
            dedupe_key=f"schedule:{slot.scheduled_for.isoformat()}",
        )
        fired = repository.FiredSlot(
            stored.workflow_id, fired=slot.scheduled_for, next_fire_at=slot.next_fire_at
        )
        firings.append(_Firing(request, fired))
    return firings


class Scheduler:
    """One scheduler's work, one tick at a time, on the time its clock gives (tests pass their own)."""

    def __init__(self, database: Database, access: ConnectorAccess, *, clock: Clock = utc_now) -> None:
        self.database = database
        self.access = access
        self.clock = clock

    async def fire_due_schedules(self) -> int:
        """Start the runs of every due schedule this scheduler could claim; how many it fired.

        Several batches at once, each in its own transaction: firing waits on round trips, not on
        this process's CPU, and SKIP LOCKED keeps the batches apart."""
        now = self.clock()
        fired = await asyncio.gather(*(self._fire_batch(now) for _ in range(SCHEDULE_BATCHES_AT_ONCE)))
        return sum(fired)

    async def _fire_batch(self, now: datetime) -> int:
        # Executions and schedules are written by the service role only.
        async with self.database.service_session() as session:
            due = await repository.claim_due_schedules(session, now, SCHEDULE_BATCH)
            if not due:
                return 0
            firings = _firings(due, now)
            await repository.advance_schedules(session, [firing.slot for firing in firings])
            # The whole batch starts in a few statements, whatever its size (engine.service); last,
            # since it holds its users' profile rows (credits) until the commit.
            await start_or_record_many(session, [firing.request for firing in firings])
        for firing in firings:
            metrics.scheduler_lateness.observe(max(0.0, (now - firing.slot.fired).total_seconds()))
        return len(due)

    async def poll_due(self) -> int:
        """Poll every due polling trigger this scheduler could claim; how many it polled."""
        return await poll_due(self.database, self.access, self.clock())

    async def seconds_until_due(self, at_most: float) -> float:
        """How long to wait before the next schedule comes due: a slot fires at its time, not up to
        a tick late; at most `at_most` (a schedule added meanwhile may come due sooner), and at
        least a moment (a due schedule that another scheduler is firing is skipped until it is done)."""
        async with self.database.service_session() as session:
            earliest = await repository.earliest_schedule_due(session)
        if earliest is None:
            return at_most
        return min(at_most, max(MIN_WAIT_SECONDS, (earliest - self.clock()).total_seconds()))

    async def tick(self) -> None:
        await self.fire_due_schedules()
        await self.poll_due()


async def run_scheduler(
    database_url: str,
    settings: Settings,
    stop_event: asyncio.Event,
    *,
    tick_seconds: float = TICK_SECONDS,
    clock: Clock = utc_now,
) -> None:
    """Run schedules and polls until `stop_event` is set (`autofy scheduler`, or inside `autofy serve`).

    Schedules and polls run as two loops, so a slow service being polled never delays a schedule.
    """
    database = Database(database_url, pool_size=settings.db_pool_size)
    scheduler = Scheduler(database, ConnectorAccess.from_settings(settings), clock=clock)
    try:
        async with asyncio.TaskGroup() as loops:
            loops.create_task(
                _every(
                    tick_seconds,
                    stop_event,
                    scheduler.fire_due_schedules,
                    "schedules",
                    full_batch=SCHEDULE_BATCH,
                    wait=scheduler.seconds_until_due,
                )
            )
            loops.create_task(_every(tick_seconds, stop_event, scheduler.poll_due, "polls"))
    finally:
        await database.dispose()


async def _every(
    seconds: float,
    stop_event: asyncio.Event,
    work: Callable[[], Awaitable[int]],
    name: str,
    *,
    full_batch: int | None = None,
    wait: Callable[[float], Awaitable[float]] | None = None,
) -> None:
    """Run `work` every `seconds` (or after what `wait`, given `seconds`, says); at once again after
    a full batch (more is due: 10,000 schedules of the same minute must not wait a tick per batch)."""
    while not stop_event.is_set():
        pause = seconds
        try:
            done = await work()
            if full_batch is not None and done >= full_batch:
                continue
            if wait is not None:
                pause = await wait(seconds)
        except Exception:
            # A database restart or a network failure must not end the scheduler: the next tick
            # starts over from what is committed.
            logger.exception("scheduler: %s tick failed; trying again", name)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=pause)
