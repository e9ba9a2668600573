"""Webhook deliveries past what Autofy can take: refused at once with 503 and Retry-After, never
acknowledged and lost (docs/webhooks.md, "When Autofy is busy")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from autofy.app import create_app
from autofy.db.engine import Database
from autofy.triggers.admission import REFUSALS_PER_SECOND, WebhookAdmission
from tests.api_fixtures import BASE_URL, api_settings_for
from tests.triggers.conftest import executions_of
from tests.triggers.test_webhooks import hook_path, webhook_workflow

DEADLINE_SECONDS = 10


@asynccontextmanager
async def app_with(database_url: str, **limits: int) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(api_settings_for(database_url, **limits), database_url)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
    ):
        yield app, http


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.01)


async def queued_jobs(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("select count(*) from pgqueuer where status = 'queued'"))
    finally:
        await connection.close()


async def test_deliveries_past_the_in_flight_bound_get_503_at_once_and_the_others_all_run(
    database_url: str, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    # Holding the executions table keeps the first deliveries in flight: they wait to insert.
    holder = await asyncpg.connect(database_url)
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("lock table public.workflow_executions in exclusive mode")
    try:
        async with app_with(database_url, webhook_max_in_flight=4) as (app, client):
            sent = [asyncio.create_task(client.post(path, json={"n": n})) for n in range(10)]
            await until(lambda: sum(task.done() for task in sent) == 6)
            refused_at_once = {task for task in sent if task.done()}
            refused = [task.result() for task in refused_at_once]
            assert app.state.webhook_admission.in_flight == 4
            for response in refused:
                assert response.status_code == 503
                assert response.headers["Retry-After"] == "1"
                assert response.json()["error"]["code"] == "overloaded"
                assert "nothing was recorded" in response.json()["error"]["message"]
            await transaction.rollback()
            accepted = [
                (await task).json() for task in sent if not task.done() or task.result().status_code != 503
            ]
    finally:
        await holder.close()

    assert len(accepted) == 4
    runs = await executions_of(database, workflow.id)
    assert sorted(str(run["id"]) for run in runs) == sorted(body["execution_id"] for body in accepted)
    assert await queued_jobs(database_url) == 4


async def test_deliveries_past_the_backlog_bound_get_503_and_nothing_acknowledged_is_lost(
    database_url: str, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    async with app_with(database_url, webhook_max_backlog=3) as (app, client):
        # No worker runs here: every accepted delivery stays on the queue.
        accepted = [await client.post(path, json={"n": n}) for n in range(3)]
        assert [response.status_code for response in accepted] == [202, 202, 202]
        await until(lambda: app.state.webhook_admission.backlog >= 3)

        refused = await client.post(path, json={"n": 3})

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert "3 runs are waiting for a worker" in refused.json()["error"]["message"]
    runs = await executions_of(database, workflow.id)
    assert sorted(str(run["id"]) for run in runs) == sorted(
        response.json()["execution_id"] for response in accepted
    )
    assert [run["trigger_data"]["body"]["n"] for run in runs] == [0, 1, 2]
    assert await queued_jobs(database_url) == 3


def test_retry_after_grows_while_refusals_run_past_their_budget_and_falls_back_when_they_stop() -> None:
    now = [0.0]
    middle = [0.5]  # where in its window a retry is sent: 0.5 gives the window's middle
    # No delivery fits (in flight bound 0): every one is refused, as senders retrying in a storm.
    admission = WebhookAdmission(
        max_in_flight=0, max_backlog=1_000, clock=lambda: now[0], spread=lambda: middle[0]
    )

    def refuse(times: int) -> list[int]:
        answers = [admission.refusal() for _ in range(times)]
        return [answer.retry_after for answer in answers if answer is not None]

    assert set(refuse(10 * REFUSALS_PER_SECOND)) == {1}  # the first second: the plain answer
    now[0] = 1.0
    [wait] = refuse(1)
    assert wait == 10  # ten times the budget came back within a second: wait ten times longer
    refuse(REFUSALS_PER_SECOND - 1)
    now[0] = 2.0
    middle[0] = 0.0
    assert refuse(1) == [5]  # at the budget the wait holds, spread over [0.5, 1.5) of it
    middle[0] = 0.99
    assert refuse(1) == [15]
    now[0] = 12.0
    middle[0] = 0.5
    assert refuse(1) == [1]  # quiet since: the plain answer again
    message = admission.refusal()
    assert message is not None
    assert "Send it again in 1 s" in message.message
