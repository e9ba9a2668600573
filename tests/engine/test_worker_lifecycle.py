"""Stopping workers gracefully, and runs whose job vanished."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import text

from autofy.db.engine import Database
from tests.engine.conftest import TEST_ENGINE_CONFIG, StartWorker, execution_row, wait_finished, wait_for
from tests.engine.steps import format_text, http_post
from tests.engine.support import create_user, start
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects


async def test_a_stopping_worker_finishes_the_step_in_flight(
    database: Database, start_worker: StartWorker, effects: EngineEffects
) -> None:
    user = await create_user(database)
    effects.hold = 0.5
    workflow = await create_workflow(
        database, user, steps=[http_post(f"{effects.url}/slow-effects/finishing"), format_text("done")]
    )
    execution_id = await start(database, workflow)

    async with start_worker():
        await wait_for(lambda: bool(effects.requests_to("/slow-effects/finishing")), what="the step to start")
    # Leaving the block stopped the worker (SIGTERM's path): it waited for the job.

    execution = await execution_row(database, execution_id)
    assert execution.execution_status == "completed"
    assert effects.effects["finishing"] == 1


async def test_a_step_outlasting_the_grace_period_is_handed_back_at_once(
    database: Database, start_worker: StartWorker, effects: EngineEffects
) -> None:
    user = await create_user(database)
    effects.hold = 1.0
    workflow = await create_workflow(
        database, user, steps=[http_post(f"{effects.url}/slow-effects/handed-back")]
    )
    execution_id = await start(database, workflow)
    impatient = dataclasses.replace(
        TEST_ENGINE_CONFIG, shutdown_grace=timedelta(milliseconds=100), lease=timedelta(seconds=60)
    )

    async with start_worker(impatient):
        await wait_for(
            lambda: bool(effects.requests_to("/slow-effects/handed-back")), what="the step to start"
        )
    # With a 60 s lease, only the hand-back lets the next worker continue within the test.
    async with start_worker(impatient):
        execution = await wait_finished(database, execution_id, within=15)

    assert execution.execution_status == "completed"
    assert len(effects.requests_to("/slow-effects/handed-back")) == 2  # the interrupted step ran again


async def test_a_running_execution_whose_job_vanished_is_requeued(
    database: Database, start_worker: StartWorker
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[format_text("rescued")])
    execution_id = await start(database, workflow)
    async with database.service_session() as session:
        await session.execute(text("delete from pgqueuer"))  # lost to something outside the engine
        await session.execute(
            text("update workflow_executions set started_at = now() - interval '1 minute' where id = :id"),
            {"id": execution_id},
        )

    async with start_worker():
        execution = await wait_finished(database, execution_id, within=15)

    assert execution.execution_status == "completed"
    assert execution.step_results[0]["output"] == {"result": "RESCUED"}
