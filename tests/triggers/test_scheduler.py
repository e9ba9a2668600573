"""Scheduled workflows through the scheduler, on a clock the tests move: activation, firing once
per slot (also with schedulers racing), daylight-saving days, missed slots, refusals, pauses,
and batches prepared before their slot (changes, deaths and races meanwhile)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.errors import ValidationFailedError
from autofy.observability.metrics import REGISTRY
from autofy.triggers import scheduler as scheduler_module
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.scheduler import Scheduler, run_scheduler
from autofy.triggers.service import on_workflow_status_changed
from autofy.triggers.tables import workflow_schedules
from autofy.workflows import service as workflow_service
from autofy.workflows.schemas import StepUpdate
from autofy.workflows.service import StatusChange, StatusHook
from tests.engine.steps import set_fields
from tests.factories import User, Workflow, create_user, create_workflow
from tests.support import WAIT_SECONDS, as_the_database_owner, until_a_session_waits_on_a_lock
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
    return Scheduler(database, connectors, clock=clock, sleep=clock.sleep)


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
        Scheduler(database, connectors, clock=clock, sleep=clock.sleep),
        Scheduler(other_database, connectors, clock=clock, sleep=clock.sleep),
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
        Scheduler(database, connectors, clock=clock, sleep=clock.sleep),
        Scheduler(other_database, connectors, clock=clock, sleep=clock.sleep),
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


# --- batches prepared before their slot ---------------------------------------------------------

SLOT = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)  # the first slot of `*/5 * * * *` after activation
A_SECOND_BEFORE = SLOT - timedelta(seconds=1)


async def every_five_minutes(
    database: Database, activate: Any, clock: FakeClock, user: User | None = None, value: int = 1
) -> Workflow:
    user = user or await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        trigger_type="scheduled",
        trigger_config={"cron": "*/5 * * * *", "timezone": "UTC"},
        steps=[set_fields({"value": value})],
    )
    await activate(workflow, user, now=clock.now)
    return workflow


async def database_time(database: Database) -> datetime:
    async with database.service_session() as session:
        now: datetime = await session.scalar(text("select clock_timestamp()"))
    return now


async def runs_of(database: Database, workflow: Workflow) -> list[dict[str, Any]]:
    """What a user checks of each run: its slot, status, start and the step configuration it runs."""
    async with database.service_session() as session:
        rows = await session.execute(
            text(
                "select trigger_data->>'scheduled_for' as slot, execution_status as status, started_at,"
                " completed_at, engine_plan->0->'configuration' as configuration"
                " from workflow_executions where workflow_id = :id order by started_at"
            ),
            {"id": workflow.id},
        )
        return [dict(row._mapping) for row in rows]


async def test_a_batch_prepared_before_its_slot_shows_nothing_until_the_slot(
    database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    workflow = await every_five_minutes(database, activate, clock)
    broke = await create_user(database)
    refused = await every_five_minutes(database, activate, clock, broke)
    await set_credits(database, broke, used=5, limit=5)

    clock.now = A_SECOND_BEFORE
    firing = asyncio.create_task(scheduler.fire_due_schedules())
    await clock.wait_for_sleepers()
    # Claimed, moved on and read, but not started: nothing of it is visible yet.
    assert await runs_of(database, workflow) == []
    assert await runs_of(database, refused) == []
    assert await next_fire_at(database, workflow) == SLOT
    before_the_slot = await database_time(database)

    clock.advance(seconds=1)
    assert await firing == 2

    [run] = await runs_of(database, workflow)
    assert (run["slot"], run["status"]) == ("2026-11-25T12:05:00+00:00", "running")
    [refusal] = await runs_of(database, refused)
    assert (refusal["slot"], refusal["status"]) == ("2026-11-25T12:05:00+00:00", "failed")
    # Started (or refused) at the slot, not when the batch was prepared.
    assert run["started_at"] > before_the_slot
    assert refusal["started_at"] > before_the_slot
    assert refusal["completed_at"] > before_the_slot
    assert await next_fire_at(database, workflow) == SLOT + timedelta(minutes=5)


def sync_triggers(connectors: ConnectorAccess, clock: FakeClock) -> StatusHook:
    async def hook(session: AsyncSession, change: StatusChange) -> None:
        await on_workflow_status_changed(
            session, change.workflow.id, change.workflow.status, connectors=connectors, now=clock.now
        )

    return hook


async def change_while_a_batch_waits_for_its_slot(
    database_url: str,
    database: Database,
    scheduler: Scheduler,
    clock: FakeClock,
    user: User,
    change: Callable[[AsyncSession], Awaitable[object]],
) -> int:
    """Prepare the batch of the next slot a second ahead; as the owner, make `change` while it
    waits: the change waits for the slot to fire (it does not deadlock with it), then applies.
    How many runs the slot fired."""
    clock.now = SLOT - timedelta(seconds=1)
    firing = asyncio.create_task(scheduler.fire_due_schedules())
    await clock.wait_for_sleepers()

    async def as_the_owner() -> None:
        async with database.user_session(user.claims) as session:
            await change(session)

    changing = asyncio.create_task(as_the_owner())
    await until_a_session_waits_on_a_lock(database_url)
    assert not changing.done()

    clock.advance(seconds=1)
    fired = await firing
    await asyncio.wait_for(changing, timeout=WAIT_SECONDS)
    return fired


async def test_a_pause_in_the_seconds_before_a_slot_takes_effect_after_it(
    database_url: str,
    database: Database,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
    connectors: ConnectorAccess,
) -> None:
    user = await create_user(database)
    workflow = await every_five_minutes(database, activate, clock, user)

    fired = await change_while_a_batch_waits_for_its_slot(
        database_url,
        database,
        scheduler,
        clock,
        user,
        lambda session: workflow_service.set_status(
            session, user.id, workflow.id, "paused", hooks=(sync_triggers(connectors, clock),)
        ),
    )

    assert fired == 1
    assert [run["slot"] for run in await runs_of(database, workflow)] == ["2026-11-25T12:05:00+00:00"]
    assert await next_fire_at(database, workflow) is None  # paused: no further slot
    clock.advance(minutes=10)
    assert await scheduler.fire_due_schedules() == 0


async def test_an_edit_in_the_seconds_before_a_slot_applies_from_the_next_slot(
    database_url: str,
    database: Database,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
    connectors: ConnectorAccess,
) -> None:
    user = await create_user(database)
    workflow = await every_five_minutes(database, activate, clock, user, value=1)
    [step_id] = workflow.step_ids

    fired = await change_while_a_batch_waits_for_its_slot(
        database_url,
        database,
        scheduler,
        clock,
        user,
        lambda session: workflow_service.update_step(
            session,
            user.id,
            workflow.id,
            step_id,
            StepUpdate(configuration={"fields": {"value": 2}}),
            hooks=(sync_triggers(connectors, clock),),
        ),
    )
    assert fired == 1
    clock.advance(minutes=5)
    assert await scheduler.fire_due_schedules() == 1

    # The slot ran the workflow as it was when the slot came; the edit, saved after, ran next.
    assert [(run["slot"], run["configuration"]) for run in await runs_of(database, workflow)] == [
        ("2026-11-25T12:05:00+00:00", {"fields": {"value": 1}}),
        ("2026-11-25T12:10:00+00:00", {"fields": {"value": 2}}),
    ]


async def test_deleting_a_workflow_in_the_seconds_before_its_slot_waits_for_the_slot(
    database_url: str, database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    user = await create_user(database)
    workflow = await every_five_minutes(database, activate, clock, user)
    other = await every_five_minutes(database, activate, clock, user)

    fired = await change_while_a_batch_waits_for_its_slot(
        database_url,
        database,
        scheduler,
        clock,
        user,
        lambda session: workflow_service.delete_workflow(session, user.id, workflow.id),
    )

    # Deleted after the slot fired, its runs with it; the rest of the batch is untouched.
    assert fired == 2
    assert await runs_of(database, workflow) == []
    assert await next_fire_at(database, workflow) is None
    assert [run["slot"] for run in await runs_of(database, other)] == ["2026-11-25T12:05:00+00:00"]


async def test_a_scheduler_that_dies_holding_a_prepared_batch_fires_nothing_and_another_fires_the_slot(
    database_url: str, database: Database, activate: Any, clock: FakeClock, scheduler: Scheduler
) -> None:
    workflows = [await every_five_minutes(database, activate, clock) for _ in range(3)]
    doomed_database = Database(database_url, pool_size=2)
    doomed = Scheduler(doomed_database, scheduler.access, clock=clock, sleep=clock.sleep)
    try:
        clock.now = A_SECOND_BEFORE
        firing = asyncio.create_task(doomed.fire_due_schedules())
        await clock.wait_for_sleepers()
        assert await scheduler.fire_due_schedules() == 0  # held: the other scheduler skips them

        # Its process dies: the server ends its connection, rolls its transaction back and
        # releases its locks.
        killed = await as_the_database_owner(
            database_url,
            "select count(*) filter (where pg_terminate_backend(pid)) from (select distinct l.pid"
            " from pg_locks l join pg_stat_activity a using (pid)"
            " where l.relation = 'public.workflow_schedules'::regclass"
            # Other test databases are copies of one template (the same oids), and autovacuum
            # may be vacuuming the table: only this database's clients are the scheduler.
            " and l.database = (select oid from pg_database where datname = current_database())"
            " and a.backend_type = 'client backend' and l.pid <> pg_backend_pid()) holders",
        )
        assert killed == 1
        clock.advance(seconds=1)
        with pytest.raises(DBAPIError):  # it starts nothing: its connection is gone
            await firing
    finally:
        await doomed_database.dispose()

    assert all([await runs_of(database, workflow) == [] for workflow in workflows])
    assert await scheduler.fire_due_schedules() == 3
    for workflow in workflows:
        assert await fired_slots(database, workflow) == ["2026-11-25T12:05:00+00:00"]


async def test_two_schedulers_preparing_ahead_fire_every_slot_exactly_once(
    database_url: str,
    database: Database,
    activate: Any,
    clock: FakeClock,
    connectors: ConnectorAccess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler_module, "SCHEDULE_BATCH", 3)  # several batches for each
    workflows = [await every_five_minutes(database, activate, clock) for _ in range(10)]
    other_database = Database(database_url, pool_size=4)
    schedulers = [
        Scheduler(database, connectors, clock=clock, sleep=clock.sleep),
        Scheduler(other_database, connectors, clock=clock, sleep=clock.sleep),
    ]
    try:
        for slot in (SLOT, SLOT + timedelta(minutes=5)):
            clock.now = slot - timedelta(seconds=1)
            rounds = [asyncio.create_task(s.fire_due_schedules()) for s in schedulers for _ in range(2)]
            await clock.wait_for_sleepers()
            clock.advance(seconds=1)
            fired = sum(await asyncio.gather(*rounds))
            # Whatever the racing rounds skipped fires now.
            fired += sum(await asyncio.gather(*(s.fire_due_schedules() for s in schedulers)))
            assert fired == len(workflows)
    finally:
        await other_database.dispose()

    for workflow in workflows:
        assert await fired_slots(database, workflow) == [
            "2026-11-25T12:05:00+00:00",
            "2026-11-25T12:10:00+00:00",
        ]
