"""Scheduled workflows through the scheduler, on a clock the tests move: activation, firing once
per slot (also with schedulers racing), daylight-saving days, missed slots, refusals, pauses."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.errors import ValidationFailedError
from autofy.observability.metrics import REGISTRY
from autofy.triggers import scheduler as scheduler_module
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.scheduler import Scheduler, run_scheduler
from autofy.triggers.tables import workflow_schedules
from tests.factories import User, Workflow, create_user, create_workflow
from tests.triggers.conftest import FakeClock, executions_of, set_credits


async def scheduled_workflow(
    database: Database, activate: Any, clock: FakeClock, user: User | None = None, **trigger_config: Any
) -> Workflow:
    user = user or await create_user(database)
    workflow = await create_workflow(database, user, trigger_type="scheduled", trigger_config=trigger_config)
    await activate(workflow, user, now=clock.now)
    return workflow


async def next_fire_at(database: Database, workflow: Workflow) -> datetime | None:
    async with database.service_session() as session:
        found: datetime | None = await session.scalar(
            select(workflow_schedules.c.next_fire_at).where(workflow_schedules.c.workflow_id == workflow.id)
        )
    return found


async def fired_slots(database: Database, workflow: Workflow) -> list[str]:
    return [
        execution["trigger_data"]["scheduled_for"] for execution in await executions_of(database, workflow.id)
    ]


@pytest.fixture
def scheduler(database: Database, connectors: ConnectorAccess, clock: FakeClock) -> Scheduler:
    return Scheduler(database, connectors, clock=clock)


async def test_activation_computes_the_next_slot_in_the_schedules_time_zone(
    database: Database, activate: Any, clock: FakeClock
) -> None:
    workflow = await scheduled_workflow(database, activate, clock, cron="0 9 * * *", timezone="Europe/Paris")

    assert await next_fire_at(database, workflow) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


async def test_the_simple_form_reads_its_time_in_the_owners_time_zone(
    database: Database, activate: Any, clock: FakeClock
) -> None:
    user = await create_user(database)
    async with database.service_session() as session:
        await session.execute(
            text("update public.profiles set timezone = 'America/New_York' where id = :id"), {"id": user.id}
        )

    workflow = await scheduled_workflow(database, activate, clock, user, schedule="daily", time="09:00")

    assert await next_fire_at(database, workflow) == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def test_an_invalid_schedule_refuses_the_activation(
    database: Database, activate: Any, clock: FakeClock
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database, user, trigger_type="scheduled", trigger_config={"cron": "61 * * * *"}
    )

    with pytest.raises(ValidationFailedError):
        await activate(workflow, user, now=clock.now)

    assert await next_fire_at(database, workflow) is None
    async with database.service_session() as session:
        status = await session.scalar(
            text("select status from public.workflows where id = :id"), {"id": workflow.id}
        )
    assert status == "draft"  # the status change rolled back with the hook


async def test_a_due_slot_fires_once(
    database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    workflow = await scheduled_workflow(database, activate, clock, cron="0 * * * *", timezone="UTC")

    await scheduler.fire_due_schedules()
    assert await executions_of(database, workflow.id) == []  # 12:00 is not after activation at 12:00

    fired_before = REGISTRY.get_sample_value("autofy_scheduler_lateness_seconds_count") or 0
    late_before = REGISTRY.get_sample_value("autofy_scheduler_lateness_seconds_sum") or 0
    clock.advance(minutes=60, seconds=1)
    await scheduler.fire_due_schedules()
    await scheduler.fire_due_schedules()

    # One slot fired, one second after it was due.
    assert REGISTRY.get_sample_value("autofy_scheduler_lateness_seconds_count") == fired_before + 1
    assert REGISTRY.get_sample_value("autofy_scheduler_lateness_seconds_sum") == pytest.approx(
        late_before + 1
    )
    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"] == {
        "scheduled_for": "2026-11-25T13:00:00+00:00",
        "timezone": "UTC",
        "missed_slots": 0,
    }
    assert execution["metadata"]["trigger_type"] == "scheduled"
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def test_two_schedulers_racing_fire_every_slot_exactly_once(
    database_url: str, database: Database, activate: Any, clock: FakeClock, connectors: ConnectorAccess
) -> None:
    user = await create_user(database)
    workflows = [
        await scheduled_workflow(database, activate, clock, user, cron="*/5 * * * *", timezone="UTC")
        for _ in range(8)
    ]
    other_database = Database(database_url, pool_size=4)
    schedulers = [
        Scheduler(database, connectors, clock=clock),
        Scheduler(other_database, connectors, clock=clock),
    ]
    try:
        for _ in range(6):
            clock.advance(minutes=5)
            await asyncio.gather(*(s.fire_due_schedules() for s in schedulers for _ in range(3)))
    finally:
        await other_database.dispose()

    expected = [f"2026-11-25T12:{minute:02d}:00+00:00" for minute in range(5, 31, 5)]
    for workflow in workflows:
        assert sorted(await fired_slots(database, workflow)) == expected


async def test_racing_schedulers_fire_mixed_users_batches_exactly_once_and_record_each_refusal_once(
    database_url: str,
    database: Database,
    activate: Any,
    clock: FakeClock,
    connectors: ConnectorAccess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small batches, so the schedules below make many batches of mixed users.
    monkeypatch.setattr(scheduler_module, "SCHEDULE_BATCH", 7)
    users = [await create_user(database) for _ in range(3)]
    broke = users[2]
    await set_credits(database, broke, used=5, limit=5)
    workflows = {
        user.id: [
            await scheduled_workflow(database, activate, clock, user, cron="*/5 * * * *", timezone="UTC")
            for _ in range(10)
        ]
        for user in users
    }
    other_database = Database(database_url, pool_size=4)
    schedulers = [
        Scheduler(database, connectors, clock=clock),
        Scheduler(other_database, connectors, clock=clock),
    ]
    try:
        for _ in range(2):
            clock.advance(minutes=5)
            await asyncio.gather(*(s.fire_due_schedules() for s in schedulers for _ in range(3)))
    finally:
        await other_database.dispose()

    expected = ["2026-11-25T12:05:00+00:00", "2026-11-25T12:10:00+00:00"]
    for user in users:
        for workflow in workflows[user.id]:
            executions = await executions_of(database, workflow.id)
            assert sorted(e["trigger_data"]["scheduled_for"] for e in executions) == expected
            statuses = {e["execution_status"] for e in executions}
            assert statuses == ({"failed"} if user is broke else {"running"})
    async with database.service_session() as session:
        counts = (
            await session.execute(
                text(
                    "select (select count(*) from workflow_executions where execution_status = 'running'),"
                    " (select count(*) from pgqueuer where entrypoint = 'autofy.run_execution'),"
                    " (select count(*) from credit_reservations)"
                )
            )
        ).one()
    # Every run started has its job and its reservation; the refused ones have neither.
    assert tuple(counts) == (40, 40, 40)


async def test_after_an_outage_the_latest_missed_slot_fires_once_and_the_rest_are_counted(
    database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    workflow = await scheduled_workflow(database, activate, clock, cron="0 9 * * *", timezone="UTC")

    clock.advance(days=3, hours=2)  # down through the 26th, 27th and 28th at 09:00
    await scheduler.fire_due_schedules()

    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"]["scheduled_for"] == "2026-11-28T09:00:00+00:00"
    assert execution["trigger_data"]["missed_slots"] == 2
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "cron", "start", "expected"),
    [
        (
            "Europe/Paris",
            "30 2 * * *",
            datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
            ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
        ),
        (
            "Europe/Paris",
            "30 2 * * *",
            datetime(2026, 10, 23, 12, 0, tzinfo=UTC),
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
        ),
        (
            "America/New_York",
            "30 2 * * *",
            datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
            ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        ),
        (
            "America/New_York",
            "30 1 * * *",
            datetime(2026, 10, 30, 12, 0, tzinfo=UTC),
            ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
        ),
    ],
)
async def test_a_daily_schedule_fires_once_a_day_across_a_daylight_saving_change(
    database: Database,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
    timezone: str,
    cron: str,
    start: datetime,
    expected: list[str],
) -> None:
    clock.now = start
    workflow = await scheduled_workflow(database, activate, clock, cron=cron, timezone=timezone)

    for _ in range(3 * 24 * 4):  # three days, a tick every 15 minutes
        clock.advance(minutes=15)
        await scheduler.fire_due_schedules()

    assert await fired_slots(database, workflow) == expected


async def test_a_slot_refused_for_credits_is_recorded_as_a_failed_execution(
    database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    user = await create_user(database)
    workflow = await scheduled_workflow(database, activate, clock, user, cron="0 * * * *", timezone="UTC")
    await set_credits(database, user, used=5, limit=5)

    clock.advance(hours=1)
    await scheduler.fire_due_schedules()

    [execution] = await executions_of(database, workflow.id)
    assert execution["execution_status"] == "failed"
    assert "credits" in execution["error_message"]
    assert execution["trigger_data"]["scheduled_for"] == "2026-11-25T13:00:00+00:00"
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def test_pausing_stops_the_schedule_and_resuming_starts_from_now(
    database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    user = await create_user(database)
    workflow = await scheduled_workflow(database, activate, clock, user, cron="0 * * * *", timezone="UTC")

    await activate(workflow, user, status="paused", now=clock.now)
    clock.advance(hours=5)
    await scheduler.fire_due_schedules()
    assert await executions_of(database, workflow.id) == []
    assert await next_fire_at(database, workflow) is None

    await activate(workflow, user, now=clock.now)
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


async def test_run_scheduler_fires_due_slots_until_stopped(
    database_url: str, database: Database, activate: Any, clock: FakeClock, api_settings: Settings
) -> None:
    workflow = await scheduled_workflow(database, activate, clock, cron="0 * * * *", timezone="UTC")
    clock.advance(hours=1)
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_scheduler(database_url, api_settings, stop, tick_seconds=0.05, clock=clock)
    )
    try:
        deadline = time.monotonic() + 10
        while not await executions_of(database, workflow.id):
            assert time.monotonic() < deadline, "the scheduler did not fire the due slot"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert await fired_slots(database, workflow) == ["2026-11-25T13:00:00+00:00"]


async def test_activating_again_keeps_an_unchanged_schedule_and_moves_a_changed_one(
    database: Database, activate: Any, clock: FakeClock
) -> None:
    user = await create_user(database)
    workflow = await scheduled_workflow(database, activate, clock, user, cron="0 9 * * *", timezone="UTC")

    clock.advance(days=2)  # the slot of the 26th is still due: re-syncing must not skip it
    await activate(workflow, user, now=clock.now)
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    async with database.service_session() as session:
        await session.execute(
            text("""update public.workflows set trigger_config = '{"cron": "0 18 * * *", "timezone": "UTC"}'
                    where id = :id"""),
            {"id": workflow.id},
        )
    await activate(workflow, user, now=clock.now)
    assert await next_fire_at(database, workflow) == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
