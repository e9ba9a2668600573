"""start_executions: many runs started in one statement keep every rule a single start has
(credits reserved, a refusal leaves nothing, a dedupe key starts one run, each run's first job
queued), for mixed users in one batch and for batches of one user started at once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from autofy.credits.service import CreditsExhausted
from autofy.db.engine import Database
from autofy.engine.service import StartRequest, prepare_starts, run_credits, start_executions, start_prepared
from autofy.errors import ConflictError, DomainError
from tests.engine.steps import format_text, set_fields
from tests.engine.support import create_user
from tests.factories import Workflow, create_workflow
from tests.support import until_a_session_waits_on_a_lock

STEPS = [set_fields({"a": 1}), format_text("x")]
CREDITS = run_credits([{"step_type": "action", **step} for step in STEPS])


async def scheduled(database: Database, user: Any, **overrides: Any) -> Workflow:
    values = {"status": "active", "trigger_type": "scheduled"} | overrides
    return await create_workflow(database, user, steps=STEPS, **values)


async def start_batch(database: Database, requests: list[StartRequest]) -> list[uuid.UUID | DomainError]:
    async with database.service_session() as session:
        return await start_executions(session, requests)


def slot(workflow: Workflow, key: str = "schedule:13:00") -> StartRequest:
    return StartRequest(workflow.id, "scheduled", {"scheduled_for": key}, dedupe_key=key)


async def ledger(database: Database) -> dict[str, Any]:
    """What a start writes: executions, reservations (and each profile's total), queued jobs."""
    async with database.service_session() as session:

        async def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in (await session.execute(text(sql))).all()]

        return {
            "executions": await rows("select id, user_id from workflow_executions"),
            "reservations": await rows("select id, user_id, credits from credit_reservations"),
            "reserved": dict(await rows("select id, credits_reserved from profiles")),
            "jobs": await rows("select dedupe_key from pgqueuer where entrypoint = 'autofy.run_execution'"),
            "job_log": await rows(
                "select l.job_id, q.id from pgqueuer_log l left join pgqueuer q on q.id = l.job_id"
            ),
        }


async def test_a_batch_of_mixed_users_starts_what_each_users_credits_cover(database: Database) -> None:
    rich = await create_user(database, credits_limit=1000)
    broke = await create_user(database, credits_used=1000, credits_limit=1000)
    # Room for two runs, not three.
    tight = await create_user(database, credits_used=1000 - 2 * CREDITS - 1, credits_limit=1000)
    workflows = {
        user.id: [await scheduled(database, user) for _ in range(3)] for user in (rich, broke, tight)
    }
    # Interleaved, as a batch claimed by next_fire_at is.
    requests = [slot(workflows[user.id][n]) for n in range(3) for user in (rich, broke, tight)]

    results = await start_batch(database, requests)

    owner = {workflow.id: user_id for user_id, owned in workflows.items() for workflow in owned}
    started: dict[uuid.UUID, list[uuid.UUID]] = {user.id: [] for user in (rich, broke, tight)}
    for request, result in zip(requests, results, strict=True):
        if isinstance(result, uuid.UUID):
            started[owner[request.workflow_id]].append(result)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert [len(started[user.id]) for user in (rich, broke, tight)] == [3, 0, 2]
    assert len(refused) == 4
    assert all(isinstance(r, CreditsExhausted) for r in refused)
    assert "Not enough credits left to start this run" in refused[0].message
    # The runs that fit the tight user's credits are its first two, in the batch's order.
    assert isinstance(results[2], uuid.UUID)
    assert isinstance(results[5], uuid.UUID)

    written = await ledger(database)
    ids = {run for runs in started.values() for run in runs}
    assert {row[0] for row in written["executions"]} == ids
    assert {row[0] for row in written["reservations"]} == ids
    assert sorted(written["jobs"]) == sorted((f"{run}:1",) for run in ids)
    assert len(written["job_log"]) == len(ids)
    assert all(job_id == queued for job_id, queued in written["job_log"])  # none for a refused run
    assert written["reserved"][rich.id] == 3 * CREDITS
    assert written["reserved"][broke.id] == 0
    assert written["reserved"][tight.id] == 2 * CREDITS


async def test_a_repeated_dedupe_key_starts_one_run_and_reserves_for_it_once(
    database: Database,
) -> None:
    user = await create_user(database)
    workflow = await scheduled(database, user)
    [first] = await start_batch(database, [slot(workflow)])

    # The same slot twice more: once in the same batch as a new slot, once as a twin within it.
    results = await start_batch(database, [slot(workflow), slot(workflow, "schedule:14:00"), slot(workflow)])

    assert results[0] == first
    assert results[2] == first
    assert isinstance(results[1], uuid.UUID)
    assert results[1] != first
    written = await ledger(database)
    assert len(written["executions"]) == 2
    assert sorted(row[0] for row in written["reservations"]) == sorted([first, results[1]])
    assert written["reserved"][user.id] == 2 * CREDITS
    assert len(written["jobs"]) == 2


async def test_a_workflow_that_is_not_active_is_refused_without_stopping_the_batch(
    database: Database,
) -> None:
    user = await create_user(database)
    active = await scheduled(database, user)
    paused = await scheduled(database, user, status="paused")

    results = await start_batch(database, [slot(paused), slot(active)])

    assert isinstance(results[0], ConflictError)
    assert "paused" in results[0].message
    assert isinstance(results[1], uuid.UUID)
    written = await ledger(database)
    assert [row[0] for row in written["executions"]] == [results[1]]
    assert written["reserved"][user.id] == CREDITS


async def test_a_period_that_ended_rolls_over_before_the_batch_reserves(database: Database) -> None:
    # The new period starts before the batch writes anything; its runs then reserve together.
    user = await create_user(database, credits_used=1000, credits_limit=1000)
    async with database.service_session() as session:
        await session.execute(
            text(
                "update profiles set credits_period_start = now() - interval '2 months', "
                "credits_period_end = now() - interval '1 month' where id = :id"
            ),
            {"id": user.id},
        )
    workflows = [await scheduled(database, user) for _ in range(2)]

    results = await start_batch(database, [slot(workflow) for workflow in workflows])

    assert all(isinstance(result, uuid.UUID) for result in results)
    async with database.service_session() as session:
        used = await session.scalar(text("select credits_used from profiles where id = :id"), {"id": user.id})
    assert used == 0
    assert (await ledger(database))["reserved"][user.id] == 2 * CREDITS


async def test_a_run_started_late_in_its_transaction_started_when_the_start_ran(database: Database) -> None:
    # A scheduler prepares a batch a second or two before its slot and starts it at the slot, in
    # one transaction: the runs started at the slot, not when the transaction began.
    user = await create_user(database)
    workflow = await scheduled(database, user)
    async with database.service_session() as session:
        transaction_began = await session.scalar(text("select now()"))
        prepared = await prepare_starts(session, [slot(workflow)])
        before_the_start = await session.scalar(text("select clock_timestamp()"))
        [execution_id] = await start_prepared(session, prepared)
    async with database.service_session() as session:
        started_at = await session.scalar(
            text("select started_at from workflow_executions where id = :id"), {"id": execution_id}
        )
    assert transaction_began < before_the_start < started_at


@pytest.mark.parametrize("period_ended", [False, True])
async def test_batches_of_one_user_started_at_once_all_start(
    database_url: str, database: Database, period_ended: bool
) -> None:
    # Two schedulers' batches at the same slot: the second waits for the first's reservation and
    # then starts too, also when the first run of a new period rolls the credits over.
    user = await create_user(database, credits_limit=1000)
    if period_ended:
        async with database.service_session() as session:
            await session.execute(
                text(
                    "update profiles set credits_used = 1000, credits_period_start = now() - interval '2 months',"
                    " credits_period_end = now() - interval '1 month' where id = :id"
                ),
                {"id": user.id},
            )
    workflows = [await scheduled(database, user) for _ in range(4)]

    async with database.service_session() as session:
        first = await start_executions(session, [slot(workflow) for workflow in workflows[:2]])
        second = asyncio.create_task(start_batch(database, [slot(workflow) for workflow in workflows[2:]]))
        # The first batch holds the profile until it commits: the second waits for it.
        await until_a_session_waits_on_a_lock(database_url)
        assert not second.done()

    results = first + await asyncio.wait_for(second, timeout=10)
    assert all(isinstance(result, uuid.UUID) for result in results)
    written = await ledger(database)
    assert len(written["executions"]) == len(written["jobs"]) == len(written["reservations"]) == 4
    assert written["reserved"][user.id] == 4 * CREDITS
