"""Deliveries that arrive together start in one transaction (triggers.intake), and each still gets
its own answer: its run, or its own refusal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from autofy.db.engine import Database
from autofy.observability.metrics import REGISTRY
from tests.triggers.conftest import executions_of
from tests.triggers.test_webhook_overload import app_with, until
from tests.triggers.test_webhooks import hook_path, signed_headers, signing_secret, webhook_workflow


def batches() -> tuple[float, float]:
    """(transactions, deliveries in them) so far, from /metrics' histogram."""
    count = REGISTRY.get_sample_value("autofy_webhook_batch_size_count") or 0.0
    total = REGISTRY.get_sample_value("autofy_webhook_batch_size_sum") or 0.0
    return count, total


class ExecutionsLock:
    """Holds the executions table until released: a batch that reaches its insert waits."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.transaction = connection.transaction()

    async def release(self) -> None:
        await self.transaction.rollback()


@asynccontextmanager
async def executions_locked(database_url: str) -> AsyncIterator[ExecutionsLock]:
    lock = ExecutionsLock(await asyncpg.connect(database_url))
    await lock.transaction.start()
    await lock.connection.execute("lock table public.workflow_executions in exclusive mode")
    try:
        yield lock
    finally:
        if lock.connection.is_in_transaction():
            await lock.release()
        await lock.connection.close()


async def lock_waiters(lock: ExecutionsLock) -> int:
    return int(
        await lock.connection.fetchval(
            "select count(*) from pg_stat_activity "
            "where wait_event_type = 'Lock' and datname = current_database()"
        )
    )


async def warm_up(client: httpx.AsyncClient, path: str) -> None:
    """One delivery, so the app's pool has a connection set up before a test holds the table: a
    pool's first connections opened while it was held were seen to stall in their set-up, so the
    first batch never reached its insert (the tests below need it waiting there)."""
    assert (await client.post(path, json={"n": -1})).status_code == 202


async def first_batch_waiting(
    client: httpx.AsyncClient, lock: ExecutionsLock, path: str
) -> asyncio.Task[httpx.Response]:
    """A delivery whose batch is waiting at its insert: what arrives meanwhile forms the next."""
    first = asyncio.create_task(client.post(path, json={"n": 0}))
    deadline = asyncio.get_running_loop().time() + 10
    while await lock_waiters(lock) == 0:
        assert asyncio.get_running_loop().time() < deadline, "the first delivery never reached its insert"
        await asyncio.sleep(0.01)
    return first


async def test_deliveries_arriving_together_share_a_transaction_and_each_gets_its_own_answer(
    database_url: str, database: Database, activate: Any
) -> None:
    user, plain = await webhook_workflow(database, activate)
    _, signed = await webhook_workflow(database, activate, user, require_signature=True)
    plain_path, signed_path = await hook_path(database, plain), await hook_path(database, signed)
    secret = await signing_secret(database, signed)
    signed_body = json.dumps({"signed": True}).encode()

    async with app_with(database_url) as (app, client):
        await warm_up(client, plain_path)
        before = batches()
        async with executions_locked(database_url) as lock:
            first = await first_batch_waiting(client, lock, plain_path)
            together = {
                **{f"plain {n}": client.post(plain_path, json={"n": n}) for n in range(1, 7)},
                "same key a": client.post(plain_path, json={"n": 7}, headers={"Idempotency-Key": "k-7"}),
                "same key b": client.post(plain_path, json={"n": 7}, headers={"Idempotency-Key": "k-7"}),
                "not json": client.post(
                    plain_path, content=b"{nope", headers={"Content-Type": "application/json"}
                ),
                "unknown token": client.post("/hooks/no-such-token", json={"n": 8}),
                "signed": client.post(
                    signed_path, content=signed_body, headers=signed_headers(secret, signed_body)
                ),
                "badly signed": client.post(
                    signed_path, content=signed_body, headers=signed_headers("wrong", signed_body)
                ),
            }
            sent = {name: asyncio.create_task(request) for name, request in together.items()}
            await until(lambda: app.state.webhook_admission.in_flight == 1 + len(sent))
            await lock.release()  # the first batch goes on; the others wait for the next
            assert (await first).status_code == 202
            answers = {name: await task for name, task in sent.items()}

    after = batches()
    # The first delivery alone, then everything that arrived while it waited: two transactions.
    assert after[0] - before[0] == 2
    assert after[1] - before[1] == 1 + len(sent)

    assert answers["not json"].status_code == 422, answers["not json"].text
    for name in ("unknown token", "badly signed"):
        assert answers[name].status_code == 404, answers[name].text
    started = {name: answer for name, answer in answers.items() if answer.status_code == 202}
    assert set(started) == {*(f"plain {n}" for n in range(1, 7)), "same key a", "same key b", "signed"}
    assert started["same key a"].json() == started["same key b"].json()

    runs = {str(run["id"]): run for run in await executions_of(database, plain.id)}
    assert len(runs) == 2 + 6 + 1
    for n in range(1, 8):
        name = f"plain {n}" if n < 7 else "same key a"
        assert runs[started[name].json()["execution_id"]]["trigger_data"]["body"] == {"n": n}
    [signed_run] = await executions_of(database, signed.id)
    assert str(signed_run["id"]) == started["signed"].json()["execution_id"]


async def test_a_delivery_that_breaks_its_batch_fails_alone_and_the_others_run(
    database_url: str, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    admin = await asyncpg.connect(database_url)
    # A fault only the database sees (nothing in Autofy's checks refuses this body).
    await admin.execute("""
        create function public.refuse_poison() returns trigger language plpgsql as $$
        begin
          if new.trigger_data -> 'body' ? 'poison' then raise exception 'poisoned delivery'; end if;
          return new;
        end $$;
        create trigger refuse_poison before insert on public.workflow_executions
          for each row execute function public.refuse_poison();
    """)
    try:
        async with app_with(database_url) as (app, client):
            await warm_up(client, path)
            async with executions_locked(database_url) as lock:
                first = await first_batch_waiting(client, lock, path)
                sent = [asyncio.create_task(client.post(path, json={"n": n})) for n in range(1, 5)]
                poisoned = asyncio.create_task(client.post(path, json={"poison": True}))
                await until(lambda: app.state.webhook_admission.in_flight == 6)
                await lock.release()
                assert (await first).status_code == 202
                answers = [await task for task in sent]
                poisoned_answer = await poisoned
    finally:
        await admin.execute(
            "drop trigger refuse_poison on public.workflow_executions; drop function public.refuse_poison()"
        )
        await admin.close()

    assert [answer.status_code for answer in answers] == [202] * 4
    assert poisoned_answer.status_code == 500
    assert poisoned_answer.json()["error"]["code"] == "internal_error"
    bodies = sorted(run["trigger_data"]["body"]["n"] for run in await executions_of(database, workflow.id))
    assert bodies == [-1, 0, 1, 2, 3, 4]
