"""start_execution's contract, and the bookkeeping recorded with a finished run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from autofy.db import tables
from autofy.db.engine import Database
from autofy.engine.service import start_execution
from autofy.errors import ConflictError, PayloadTooLargeError, PaymentRequiredError
from tests.engine.conftest import StartWorker, execution_row, wait_finished
from tests.engine.steps import format_text, http_post, set_fields
from tests.engine.support import create_user, start
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects


async def _profile_credits(database: Database, user_id: object) -> int:
    async with database.service_session() as session:
        return int(
            await session.scalar(
                select(tables.profiles.c.credits_used).where(tables.profiles.c.id == user_id)
            )
            or 0
        )


async def test_a_new_execution_is_running_with_its_job_queued(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[set_fields({"a": 1}), format_text("x")],
        status="active",
        trigger_type="webhook",
    )

    execution_id = await start(database, workflow, {"body": {"x": 1}}, trigger_type="webhook")

    execution = await execution_row(database, execution_id)
    assert execution.execution_status == "running"
    assert execution.total_steps == 2
    assert execution.trigger_data == {"body": {"x": 1}}
    assert execution.metadata["trigger_type"] == "webhook"
    async with database.service_session() as session:
        jobs = (await session.execute(text("select entrypoint, dedupe_key from pgqueuer"))).all()
    assert [tuple(job) for job in jobs] == [("autofy.run_execution", f"{execution_id}:1")]


async def test_a_rolled_back_start_leaves_no_job_behind(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})])

    async def start_then_fail() -> None:
        async with database.service_session() as session:
            await start_execution(session, workflow_id=workflow.id, trigger_type="manual", trigger_data={})
            raise RuntimeError("the caller's transaction fails after the start")

    with pytest.raises(RuntimeError):
        await start_then_fail()

    async with database.service_session() as session:
        assert await session.scalar(text("select count(*) from pgqueuer")) == 0
        assert await session.scalar(text("select count(*) from workflow_executions")) == 0


async def test_only_active_workflows_run_on_their_trigger(database: Database) -> None:
    user = await create_user(database)
    paused = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="paused")
    archived = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="archived")

    with pytest.raises(ConflictError):
        await start(database, paused, trigger_type="scheduled")
    with pytest.raises(ConflictError):
        await start(database, archived)
    test_run = await start(database, paused)  # by hand: a test run
    assert (await execution_row(database, test_run)).metadata["test_run"] is True


async def test_credits_used_up_refuse_new_runs(database: Database) -> None:
    user = await create_user(database, credits_used=50, credits_limit=50)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="active")

    with pytest.raises(PaymentRequiredError, match="Not enough credits left to start this run"):
        await start(database, workflow, trigger_type="webhook")


async def test_oversized_trigger_data_is_refused(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})])

    with pytest.raises(PayloadTooLargeError, match="1024 KiB"):
        await start(database, workflow, {"blob": "x" * (1024 * 1024)})


async def test_a_dedupe_key_starts_one_execution_even_under_concurrent_calls(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="active")

    ids = await asyncio.gather(
        *(
            start(database, workflow, {"n": n}, trigger_type="webhook", dedupe_key="delivery-1")
            for n in range(5)
        )
    )

    assert len(set(ids)) == 1
    async with database.service_session() as session:
        assert await session.scalar(text("select count(*) from workflow_executions")) == 1
        assert await session.scalar(text("select count(*) from pgqueuer")) == 1


async def test_completion_updates_workflow_totals_and_credits_in_one_go(
    database: Database, start_worker: StartWorker, effects: EngineEffects
) -> None:
    user = await create_user(database, credits_used=10)
    workflow = await create_workflow(
        database,
        user,
        steps=[set_fields({"a": 1}), format_text("{{ trigger.word }}")],
        status="active",
    )
    failing = await create_workflow(
        database,
        user,
        steps=[set_fields({"a": 1}), http_post(f"{effects.url}/effects/x", error_handling={"retry": False})],
        status="active",
    )
    effects.fail(400, times=1, path_contains="/effects/x")

    async with start_worker():
        first = await wait_finished(database, await start(database, workflow, {"word": "a"}))
        second = await wait_finished(database, await start(database, workflow, {"word": "b"}))
        failed = await wait_finished(database, await start(database, failing))

    assert first.credits_used == 2  # one per action run
    assert failed.credits_used == 1  # the failed call is not charged
    assert await _profile_credits(database, user.id) == 10 + 2 + 2 + 1
    async with database.service_session() as session:
        row = (
            await session.execute(select(tables.workflows).where(tables.workflows.c.id == workflow.id))
        ).one()
    assert row.total_executions == 2
    assert row.successful_executions == 2
    assert row.failed_executions == 0
    assert row.last_executed_at == second.completed_at
    assert abs(row.average_duration - (first.duration + second.duration) / 2) < timedelta(milliseconds=1)
    async with database.service_session() as session:
        failing_row = (
            await session.execute(select(tables.workflows).where(tables.workflows.c.id == failing.id))
        ).one()
    assert failing_row.failed_executions == 1
    assert failing_row.total_executions == 1


async def test_a_finished_execution_cannot_change_status(
    database: Database, start_worker: StartWorker
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})])
    async with start_worker():
        execution = await wait_finished(database, await start(database, workflow))

    with pytest.raises(Exception, match="already completed"):
        async with database.service_session() as session:
            await session.execute(
                tables.workflow_executions.update()
                .where(tables.workflow_executions.c.id == execution.id)
                .values(execution_status="failed")
            )


async def test_runs_finishing_together_add_up_to_the_same_totals(
    database: Database, start_worker: StartWorker
) -> None:
    # A backlog drained by one worker: runs that end at the same time finish in one transaction.
    user = await create_user(database)
    workflows = [
        await create_workflow(
            database, user, steps=[set_fields({"a": 1}), format_text("run {{ trigger.n }}")], status="active"
        )
        for _ in range(2)
    ]
    runs = [await start(database, workflows[n % 2], {"n": n}) for n in range(40)]

    async with start_worker():
        finished = [await wait_finished(database, run) for run in runs]

    assert {(row.execution_status, row.error_message) for row in finished} == {("completed", None)}
    assert await _profile_credits(database, user.id) == sum(row.credits_used for row in finished) == 80
    async with database.service_session() as session:
        shared_commits = await session.scalar(
            text("select count(*) - count(distinct xmin::text) from workflow_executions")
        )
        totals = {
            row.id: row
            for row in await session.execute(
                select(tables.workflows).where(tables.workflows.c.id.in_([w.id for w in workflows]))
            )
        }
    assert shared_commits > 0, "no two runs finished in the same transaction"
    for workflow in workflows:
        own = [row for row, run in zip(finished, runs, strict=True) if row.workflow_id == workflow.id]
        total = totals[workflow.id]
        assert (total.total_executions, total.successful_executions, total.failed_executions) == (20, 20, 0)
        assert total.last_executed_at == max(row.completed_at for row in own)
        mean = sum((row.duration for row in own), timedelta()) / len(own)
        assert abs(total.average_duration - mean) < timedelta(milliseconds=1)
