"""The scheduler: fires due schedules and runs due polls. Any number may run at once, on any
machines; they coordinate only through PostgreSQL.

A schedule's slot is claimed with `FOR UPDATE SKIP LOCKED` and moved on (`next_fire_at`) in the
transaction that starts its run, whose dedupe key names the slot: two schedulers never fire one
slot twice, and a crash between the two leaves neither. A claimed batch starts in a few
statements whatever its size (`runs.start_or_record_prepared`). Polls work the same way (see
polling.py).

Batches are prepared before their slot: up to PREPARE_AHEAD_SECONDS early the scheduler claims
the schedules coming due, works out their slots, moves them on, reads their workflows and applies
the rules; at the slot only the start (`public.start_executions`) and the commit are left. Until
that commit nothing of the batch is visible, and a scheduler that dies meanwhile releases its
locks with its connection: another one fires the slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from autofy.config import Settings
from autofy.connectors.catalog import Schedule
from autofy.db.engine import Database
from autofy.engine.service import StartRequest, prepare_starts
from autofy.observability import metrics
from autofy.triggers import repository
from autofy.triggers.polling import ConnectorAccess, poll_due
from autofy.triggers.runs import start_or_record_prepared
from autofy.triggers.schedule import DueSlot, due_slot

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
# How often a scheduler looks for due polls, and the longest it waits between two looks for due
# schedules (it wakes at the next slot when that comes sooner).
TICK_SECONDS = 1.0
# The shortest wait between two looks for due schedules.
MIN_WAIT_SECONDS = 0.02
# Schedules claimed per transaction; after a full round the scheduler claims again at once.
SCHEDULE_BATCH = 500
# Batches one scheduler prepares at once (each a transaction and a pooled connection): preparing
# waits on round trips as much as on this process's CPU.
SCHEDULE_BATCHES_AT_ONCE = 4
# Prepared batches one scheduler starts at once when their slot comes. The start is the database's
# CPU: more at once only take turns on the same cores and pages, and finish all together; two at a
# time, half the runs were visible 30 % sooner and the last as soon (docs/performance.md §4).
SCHEDULE_STARTS_AT_ONCE = 2
# Batches one scheduler holds ready for their slot, each on its own connection (the pool has
# `db_pool_size` and as many again): 5,000 schedules of the same minute per scheduler.
SCHEDULE_BATCHES_HELD = 10
# How long before its slot a batch is prepared. Long enough to prepare a minute's worth of
# batches on a busy machine (10,000 schedules took 0.6-1 s of this 2-core machine at load 2, over
# 2 s at load 4.5: docs/performance.md §4); short, because a prepared batch holds its schedules
# and keeps its workflows from changing (an edit, pause or delete in this window waits for the
# slot to fire first), and holds a connection.
PREPARE_AHEAD_SECONDS = 3.0


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


@dataclass
class _Round:
    """One `fire_due_schedules`: the batches it prepares share these."""

    due_by: datetime
    preparing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SCHEDULE_BATCHES_AT_ONCE))
    starting: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SCHEDULE_STARTS_AT_ONCE))
    # A batch came back short (no more is due that this scheduler may claim) or failed.
    stop_claiming: bool = False


class Scheduler:
    """One scheduler's work, one tick at a time, on the time its clock gives; it waits for a slot
    with `sleep` (tests pass their own clock and sleep)."""

    def __init__(
        self,
        database: Database,
        access: ConnectorAccess,
        *,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.database = database
        self.access = access
        self.clock = clock
        self.sleep = sleep

    async def fire_due_schedules(self) -> int:
        """Start the runs of every schedule due within PREPARE_AHEAD_SECONDS that this scheduler
        could claim, each at its slot; how many it fired.

        Up to SCHEDULE_BATCHES_HELD batches, each in its own transaction, prepared
        SCHEDULE_BATCHES_AT_ONCE and started SCHEDULE_STARTS_AT_ONCE at a time; SKIP LOCKED keeps
        the batches apart."""
        this_round = _Round(due_by=self.clock() + timedelta(seconds=PREPARE_AHEAD_SECONDS))
        batches = await asyncio.gather(
            *(self._fire_batch(this_round) for _ in range(SCHEDULE_BATCHES_HELD)), return_exceptions=True
        )
        failures = [batch for batch in batches if isinstance(batch, BaseException)]
        if failures:
            # A lost connection, say: that batch rolled back (a later tick fires its schedules),
            # the others fired theirs; the tick fails with the first failure, logged once.
            raise failures[0]
        return sum(batch for batch in batches if isinstance(batch, int))

    async def _fire_batch(self, this_round: _Round) -> int:
        async with AsyncExitStack() as transaction:
            async with this_round.preparing:
                if this_round.stop_claiming:
                    return 0
                try:
                    # Executions and schedules are written by the service role only.
                    session = await transaction.enter_async_context(self.database.service_session())
                    due = await repository.claim_due_schedules(session, this_round.due_by, SCHEDULE_BATCH)
                except Exception:
                    this_round.stop_claiming = True  # the database is away, say: no use trying again now
                    raise
                this_round.stop_claiming = len(due) < SCHEDULE_BATCH
                if not due:
                    return 0
                # The batch fires at its latest slot (a batch holds one slot but at its edges),
                # with the slots as they stand then.
                fires_at = max(self.clock(), max(stored.next_fire_at for stored in due))
                firings = _firings(due, fires_at)
                await repository.advance_schedules(session, [firing.slot for firing in firings])
                prepared = await prepare_starts(session, [firing.request for firing in firings])
            await self._wait_until(fires_at)
            async with this_round.starting:
                await start_or_record_prepared(session, prepared)
        now = self.clock()
        for firing in firings:
            metrics.scheduler_lateness.observe(max(0.0, (now - firing.slot.fired).total_seconds()))
        return len(due)

    async def _wait_until(self, instant: datetime) -> None:
        while (left := (instant - self.clock()).total_seconds()) > 0:
            await self.sleep(left)

    async def poll_due(self) -> int:
        """Poll every due polling trigger this scheduler could claim; how many it polled."""
        return await poll_due(self.database, self.access, self.clock())

    async def seconds_until_due(self, at_most: float) -> float:
        """How long to wait before preparing the next schedule to come due: a slot fires at its
        time, not up to a tick late; at most `at_most` (a schedule added meanwhile may come due
        sooner), and at least a moment (a due schedule that another scheduler is firing is
        skipped until it is done)."""
        async with self.database.service_session() as session:
            earliest = await repository.earliest_schedule_due(session)
        if earliest is None:
            return at_most
        until_prepared = (earliest - self.clock()).total_seconds() - PREPARE_AHEAD_SECONDS
        return min(at_most, max(MIN_WAIT_SECONDS, until_prepared))

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
    a full batch (more may be due: 10,000 schedules of the same minute must not wait a tick)."""
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
