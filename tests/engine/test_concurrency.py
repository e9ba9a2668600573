"""Many workers on one queue: no execution run twice or lost, also when workers are killed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.process import BaseProcess

import pytest
from sqlalchemy import select, text

from autofy.config import Settings
from autofy.db import tables
from autofy.db.engine import Database
from autofy.engine.config import EngineConfig
from autofy.engine.worker import WORKER_APPLICATION_NAME
from tests.engine.conftest import (
    FINISHED,
    TEST_ENGINE_CONFIG,
    StartWorker,
    no_queued_jobs,
    wait_finished,
    wait_until,
)
from tests.engine.steps import http_post, set_fields
from tests.engine.support import create_user, start
from tests.engine.worker_process import CRASH_TEST_CONFIG, fork_server, spawn
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects


async def _statuses(database: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    async with database.service_session() as session:
        rows = await session.execute(
            select(tables.workflow_executions.c.id, tables.workflow_executions.c.execution_status).where(
                tables.workflow_executions.c.id.in_(ids)
            )
        )
    return {row.id: row.execution_status for row in rows}


async def _all_finished(database: Database, ids: list[uuid.UUID]) -> bool:
    statuses = await _statuses(database, ids)
    return len(statuses) == len(ids) and all(status in FINISHED for status in statuses.values())


async def test_three_workers_racing_run_every_execution_exactly_once(
    database: Database, start_worker: StartWorker, effects: EngineEffects
) -> None:
    user = await create_user(database, credits_limit=100_000)
    workflow = await create_workflow(
        database,
        user,
        steps=[
            set_fields({"n": "{{ trigger.n }}"}),
            http_post(f"{effects.url}/effects/{{{{ execution.id }}}}"),
        ],
        status="active",
    )
    ids = [await start(database, workflow, {"n": n}) for n in range(60)]

    # Three workers in one test process share its CPU with the fake server; a lease long enough
    # that none expires under that load (lease takeover is the crash tests' subject).
    config = dataclasses.replace(TEST_ENGINE_CONFIG, lease=timedelta(seconds=20))
    async with start_worker(config), start_worker(config), start_worker(config):
        await wait_until(lambda: _all_finished(database, ids), within=60, what="every execution to finish")

    assert set((await _statuses(database, ids)).values()) == {"completed"}
    assert {key: count for key, count in effects.effects.items() if count != 1} == {}
    assert set(effects.effects) == {str(execution_id) for execution_id in ids}
    assert await no_queued_jobs(database)


class WorkerProcesses:
    """Worker processes forked for one test, and a way to wait until they are serving."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.context = fork_server()
        self.processes: list[BaseProcess] = []

    async def spawn(self, config: EngineConfig = CRASH_TEST_CONFIG) -> BaseProcess:
        process = spawn(self.context, self.settings, config)
        self.processes.append(process)
        await wait_until(self._all_serving, within=120, what="the worker processes to connect")
        return process

    def alive(self) -> list[BaseProcess]:
        return [process for process in self.processes if process.is_alive()]

    async def _all_serving(self) -> bool:
        async with self.database.service_session() as session:
            serving = await session.scalar(
                text(
                    "select count(*) from pg_stat_activity "
                    "where datname = current_database() and application_name = :name"
                ),
                {"name": WORKER_APPLICATION_NAME},
            )
        return serving == len(self.alive())

    def stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid or 0, signal.SIGCONT)
                process.terminate()
        for process in self.processes:
            process.join(timeout=30)


@pytest.fixture
def worker_processes(database: Database, api_settings: Settings) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(database, api_settings)
    yield processes
    processes.stop_all()


async def test_workers_killed_mid_step_lose_nothing_and_rerun_at_most_the_step_they_were_in(
    database: Database,
    effects: EngineEffects,
    worker_processes: WorkerProcesses,
) -> None:
    user = await create_user(database, credits_limit=100_000)
    base = f"{effects.url}"
    key = "{{ execution.id }}"
    workflow = await create_workflow(
        database,
        user,
        steps=[
            http_post(f"{base}/slow-effects/{key}-1"),
            http_post(f"{base}/effects/{key}-2"),
            set_fields({"between": "{{ steps[2].body.seen }}"}),
            http_post(f"{base}/slow-effects/{key}-4"),
            http_post(f"{base}/effects/{key}-5"),
        ],
        status="active",
    )
    for _ in range(3):
        await worker_processes.spawn()
    ids = [await start(database, workflow, {"n": n}) for n in range(40)]

    kills = 0
    chance = random.Random(4)
    for _ in range(8):
        # Let the workers get into their steps (a slow step holds for 0.3 s), then kill one.
        await asyncio.sleep(chance.uniform(0.2, 0.6))
        victim = chance.choice(worker_processes.alive())
        victim.kill()
        victim.join()
        kills += 1
        await worker_processes.spawn()

    await wait_until(lambda: _all_finished(database, ids), within=120, what="every execution to finish")
    await wait_until(lambda: no_queued_jobs(database), within=30, what="the queue to drain")

    # None lost, none stuck, none finished twice.
    assert set((await _statuses(database, ids)).values()) == {"completed"}
    async with database.service_session() as session:
        totals = (
            await session.execute(
                select(tables.workflows.c.total_executions).where(tables.workflows.c.id == workflow.id)
            )
        ).scalar_one()
        credits, reserved = (
            await session.execute(
                select(tables.profiles.c.credits_used, tables.profiles.c.credits_reserved).where(
                    tables.profiles.c.id == user.id
                )
            )
        ).one()
        results = (
            await session.execute(
                select(tables.workflow_executions.c.step_results).where(
                    tables.workflow_executions.c.id.in_(ids)
                )
            )
        ).scalars()
        step_orders = [[result["step_order"] for result in step_results] for step_results in results]
    assert totals == len(ids)
    assert credits == 5 * len(ids)
    # Runs taken over from killed workers settled their reservations like the others: none leaks.
    assert reserved == 0
    assert step_orders == [[1, 2, 3, 4, 5]] * len(ids)

    # Every effect happened; a repeated one is the step a killed worker was in (a worker runs at
    # most two jobs at once, so a kill can cost at most two step re-runs).
    expected = {f"{execution_id}-{order}" for execution_id in ids for order in (1, 2, 4, 5)}
    assert set(effects.effects) == expected
    repeats = sum(count - 1 for count in effects.effects.values())
    assert repeats <= 2 * kills, f"{repeats} repeated effects for {kills} kills"
    assert repeats >= 1, "no kill landed while a step was in flight: the test did not test"


async def _async(value: bool) -> bool:
    return value


async def test_a_zombie_workers_late_write_is_refused(
    database: Database,
    effects: EngineEffects,
    worker_processes: WorkerProcesses,
) -> None:
    user = await create_user(database)
    effects.hold = 1.0
    workflow = await create_workflow(
        database,
        user,
        steps=[
            http_post(f"{effects.url}/slow-effects/zombie"),
            set_fields({"seen": "{{ steps[1].body.seen }}"}),
        ],
    )
    zombie = await worker_processes.spawn()
    execution_id = await start(database, workflow)
    await wait_until(
        lambda: _async(bool(effects.requests_to("/slow-effects/zombie"))), what="the step to start"
    )

    os.kill(zombie.pid or 0, signal.SIGSTOP)  # frozen past its lease: its job goes to another worker
    await worker_processes.spawn()
    await wait_until(
        lambda: _async(len(effects.requests_to("/slow-effects/zombie")) == 2), within=30, what="the takeover"
    )
    await wait_until(lambda: _all_finished(database, [execution_id]), within=30, what="the run to finish")
    os.kill(zombie.pid or 0, signal.SIGCONT)  # it wakes up and tries to record the step it ran
    await wait_until(lambda: no_queued_jobs(database), within=30, what="the queue to drain")

    async with database.service_session() as session:
        row = (
            await session.execute(
                select(tables.workflow_executions).where(tables.workflow_executions.c.id == execution_id)
            )
        ).one()
        assert await session.scalar(text("select count(*) from workflow_executions")) == 1
    assert row.execution_status == "completed"
    assert [result["step_order"] for result in row.step_results] == [1, 2]
    assert row.step_results[1]["output"] == {"seen": 2}  # the survivor's call, recorded once


async def test_a_dead_workers_job_is_taken_over_at_once_not_after_its_lease(
    database: Database,
    effects: EngineEffects,
    worker_processes: WorkerProcesses,
) -> None:
    user = await create_user(database)
    effects.gate = threading.Event()
    workflow = await create_workflow(
        database, user, steps=[http_post(f"{effects.url}/slow-effects/taken-over")], status="active"
    )
    # A lease far longer than the test waits: only the dead worker's released lock can explain
    # the takeover.
    long_lease = dataclasses.replace(CRASH_TEST_CONFIG, lease=timedelta(seconds=300))
    victim = await worker_processes.spawn(long_lease)
    try:
        execution_id = await start(database, workflow)
        await wait_until(
            lambda: _async(len(effects.requests_to("/slow-effects/taken-over")) == 1),
            what="the step to start",
        )
        await worker_processes.spawn(long_lease)
        victim.kill()
        victim.join()
        await wait_until(
            lambda: _async(len(effects.requests_to("/slow-effects/taken-over")) == 2),
            within=10,
            what="the surviving worker to take the job over",
        )
    finally:
        effects.gate.set()
    row = await wait_finished(database, execution_id, within=30)
    assert row.execution_status == "completed"
    assert [result["step_order"] for result in row.step_results] == [1]
