"""Credits per period: runs and assistant turns reserve before they start (never past the
allowance, however many start at once), settle when they end, lapsed reservations come back, the
period resets (audited), and operators grant extra credits; the API and the CLI show it all."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from autofy.credits.service import CreditsExhausted
from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.engine.queue import raw_connection
from autofy.engine.service import run_credits, start_execution
from tests.api_fixtures import sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.engine.conftest import StartWorker, start_worker, wait_finished
from tests.engine.steps import format_text, only_if, set_fields
from tests.engine.support import create_user, start
from tests.factories import User, create_workflow
from tests.fakes.openai import FakeOpenAI
from tests.test_cli import autofy

__all__ = ["start_worker"]


async def profile_credits(database: Database, user_id: uuid.UUID) -> dict[str, Any]:
    async with database.service_session() as session:
        row = (
            await session.execute(
                select(
                    tables.profiles.c.credits_used,
                    tables.profiles.c.credits_reserved,
                    tables.profiles.c.credits_granted,
                    tables.profiles.c.credits_period_start,
                    tables.profiles.c.credits_period_end,
                ).where(tables.profiles.c.id == user_id)
            )
        ).one()
    return dict(row._mapping)


async def audit_rows(database: Database, user_id: uuid.UUID, action: str) -> list[dict[str, Any]]:
    async with database.service_session() as session:
        rows = await session.execute(
            select(tables.audit_logs.c.details)
            .where(tables.audit_logs.c.user_id == user_id, tables.audit_logs.c.action == action)
            .order_by(tables.audit_logs.c.created_at)
        )
    return [row.details for row in rows]


async def set_profile(database: Database, user_id: uuid.UUID, **values: Any) -> None:
    async with database.service_session() as session:
        await session.execute(update(tables.profiles).where(tables.profiles.c.id == user_id).values(**values))


def first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


async def test_many_concurrent_starts_never_overshoot_a_small_allowance(
    database_url: str, database: Database
) -> None:
    user = await create_user(database, credits_limit=10)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="active")
    many = Database(database_url, pool_size=30)

    async def start_one() -> str:
        try:
            async with many.service_session() as session:
                await start_run(session, workflow.id)
        except CreditsExhausted:
            return "refused"
        return "started"

    try:
        outcomes = await asyncio.gather(*(start_one() for _ in range(40)))
    finally:
        await many.dispose()

    assert outcomes.count("started") == 10  # one credit each: exactly the allowance
    assert outcomes.count("refused") == 30
    credits = await profile_credits(database, user.id)
    assert (credits["credits_used"], credits["credits_reserved"]) == (0, 10)
    async with database.service_session() as session:
        assert await session.scalar(text("select count(*) from workflow_executions")) == 10


async def start_run(session: Any, workflow_id: uuid.UUID) -> uuid.UUID:
    return await start_execution(session, workflow_id=workflow_id, trigger_type="manual", trigger_data={})


async def test_a_finished_run_is_charged_what_it_used_and_the_rest_comes_back(
    database: Database, start_worker: StartWorker
) -> None:
    user = await create_user(database, credits_limit=100)
    # Three action steps reserved; the filter ends the run after the first.
    steps = [
        set_fields({"go": False}),
        only_if({"all": [{"left": "{{ steps[1].go }}", "op": "equals", "right": True}]}),
        format_text("never"),
        format_text("never either"),
    ]
    workflow = await create_workflow(database, user, steps=steps, status="active")
    assert run_credits(steps) == 3

    execution_id = await start(database, workflow)
    held = await profile_credits(database, user.id)
    assert (held["credits_used"], held["credits_reserved"]) == (0, 3)
    async with start_worker():
        finished = await wait_finished(database, execution_id)

    assert finished.credits_used == 1
    settled = await profile_credits(database, user.id)
    assert (settled["credits_used"], settled["credits_reserved"]) == (1, 0)


async def test_reservations_that_lapsed_come_back_and_running_ones_are_kept(database: Database) -> None:
    user = await create_user(database, credits_limit=5)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})] * 2, status="active")
    kept = await start(database, workflow)  # still running (no worker): its 2 credits stay held
    lost = await start(database, workflow)
    # A run that ended without its settlement (a crash, a repair by hand) and a turn whose
    # transaction rolled back, its time run out.
    async with database.service_session() as session:
        await session.execute(
            text("update workflow_executions set execution_status = 'failed' where id = :id"), {"id": lost}
        )
        connection = await raw_connection(session)
        assert await connection.fetchval(
            "select public.reserve_credits($1, $2, 1, 'chat_turn', now() - interval '1 second')",
            user.id,
            uuid.uuid4(),
        )
    assert (await profile_credits(database, user.id))["credits_reserved"] == 5

    # Refused on the fast path, the reservation releases what lapsed and tries again.
    await start(database, workflow)

    credits = await profile_credits(database, user.id)
    assert (credits["credits_used"], credits["credits_reserved"]) == (0, 4)
    async with database.service_session() as session:
        held = await session.execute(text("select id from credit_reservations order by created_at"))
        assert next(row.id for row in held) == kept


async def test_the_period_resets_at_its_end_and_the_reset_is_audited(database: Database) -> None:
    user = await create_user(database, credits_used=50, credits_limit=50)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="active")
    with pytest.raises(CreditsExhausted, match=r"Credits reset on \d{4}-\d\d-01 at 00:00 UTC"):
        await start(database, workflow)
    ended = datetime(2026, 10, 1, tzinfo=UTC)
    await set_profile(
        database,
        user.id,
        credits_granted=7,
        credits_period_start=datetime(2026, 9, 1, tzinfo=UTC),
        credits_period_end=ended,
    )

    await start(database, workflow)

    now = datetime.now(UTC)
    credits = await profile_credits(database, user.id)
    assert (credits["credits_used"], credits["credits_reserved"], credits["credits_granted"]) == (0, 1, 0)
    assert credits["credits_period_start"] == datetime(now.year, now.month, 1, tzinfo=UTC)
    assert credits["credits_period_end"] == first_of_next_month(now)
    [reset] = await audit_rows(database, user.id, "credits.period_reset")
    assert reset["credits_used"] == 50
    assert reset["credits_granted"] == 7
    assert reset["closed_period_end"].startswith("2026-10-01T00:00:00")
    # The next start is in the current period: no second reset.
    await start(database, workflow)
    assert len(await audit_rows(database, user.id, "credits.period_reset")) == 1


async def test_an_assistant_turn_reserves_its_most_and_is_charged_what_it_used(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    await set_profile(database, user.user_id, credits_limit=45)
    fake_openai.reply_text("Sure.", input_tokens=1500, output_tokens=200)

    turn = await say(client, user, chat["id"], "Hi")

    assert turn["assistant_message"]["metadata"]["usage"]["credits"] == 2
    credits = await profile_credits(database, user.user_id)
    assert (credits["credits_used"], credits["credits_reserved"]) == (2, 0)
    # 43 left, but a turn may use up to 40 of them: one more fits, then no more.
    usage = (await client.get("/api/v1/usage", headers=user.headers)).json()
    assert usage["credits"]["remaining"] == 43
    await set_profile(database, user.user_id, credits_used=6)
    refused = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages", json={"content": "Again"}, headers=user.headers
    )
    assert refused.status_code == 402
    assert "it may use up to 40, and 39 of this period's 45 remain" in refused.json()["error"]["message"]
    assert len(fake_openai.chat_requests()) == 1


async def test_the_usage_api_shows_the_period_and_what_is_left(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    user = User(id=account.user_id, email=account.email, claims=user_claims(account.user_id, account.email))
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})] * 3, status="active")
    await set_profile(database, account.user_id, credits_used=100)
    await start(database, workflow)

    response = await client.get("/api/v1/usage", headers=account.headers)

    assert response.status_code == 200
    now = datetime.now(UTC)
    body = response.json()["credits"]
    assert datetime.fromisoformat(body.pop("period_start")) == datetime(now.year, now.month, 1, tzinfo=UTC)
    assert datetime.fromisoformat(body.pop("period_end")) == first_of_next_month(now)
    assert body == {
        "plan_type": "free",
        "allowance": 1000,
        "granted": 0,
        "used": 100,
        "reserved": 3,
        "remaining": 897,
    }
    assert (await client.get("/api/v1/usage")).status_code == 401


async def test_an_operator_grants_extra_credits_and_sees_them(database_url: str, database: Database) -> None:
    env = {"AUTOFY_DATABASE_URL": database_url}
    user = await create_user(database, credits_used=1000, credits_limit=1000)
    workflow = await create_workflow(database, user, steps=[set_fields({"a": 1})], status="active")
    with pytest.raises(CreditsExhausted):
        await start(database, workflow)

    granted = autofy("users", "grant-credits", user.email, "250", "--json", env=env)

    assert granted.returncode == 0, granted.stderr
    shown = json.loads(granted.stdout)
    assert {key: shown[key] for key in ("allowance", "granted", "used", "reserved", "remaining")} == {
        "allowance": 1000,
        "granted": 250,
        "used": 1000,
        "reserved": 0,
        "remaining": 250,
    }
    [grant] = await audit_rows(database, user.id, "credits.grant")
    assert grant["credits"] == 250
    await start(database, workflow)  # the grant lets runs start again
    table = autofy("users", "credits", user.email, env=env)
    assert table.returncode == 0, table.stderr
    header, values = table.stdout.strip().splitlines()  # piped: tab-separated, uncut
    row = dict(zip(header.split("\t"), values.split("\t"), strict=True))
    assert (row["allowance"], row["granted"], row["used"], row["reserved"], row["remaining"]) == (
        "1000",
        "250",
        "1000",
        "1",
        "249",
    )
    assert row["resets at"] == first_of_next_month(datetime.now(UTC)).isoformat()
    unknown = autofy("users", "grant-credits", "nobody@example.com", "5", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: No user has the email nobody@example.com."
