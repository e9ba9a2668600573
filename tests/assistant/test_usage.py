"""Tokens recorded per message, credits charged to the profile, and a refusal past the limit."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.fakes.openai import FakeOpenAI


async def credits_used(database: Database, user_id: object) -> int:
    async with database.service_session() as session:
        used = await session.scalar(
            select(tables.profiles.c.credits_used).where(tables.profiles.c.id == user_id)
        )
    return int(used or 0)


async def test_tokens_are_recorded_on_the_answer_and_charged_as_credits(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_tool_call("search_catalog", {"query": "telegram"})
    fake_openai.reply_text("Telegram can send messages.", input_tokens=1500, output_tokens=600)

    turn = await say(client, user, chat["id"], "What can Telegram do?")

    metadata = turn["assistant_message"]["metadata"]
    first_call_input = metadata["usage"]["input_tokens"] - 1500
    assert first_call_input > 0
    assert metadata["usage"]["output_tokens"] > 600
    assert (
        metadata["usage"]["total_tokens"]
        == metadata["usage"]["input_tokens"] + metadata["usage"]["output_tokens"]
    )
    assert metadata["provider"] == "openai"
    assert metadata["model"] == "gpt-4o-mini"
    assert metadata["model_calls"] == 2
    assert metadata["latency_ms"] >= 0
    assert metadata["tool_calls"] == [
        {"name": "search_catalog", "arguments": {"query": "telegram"}, "ok": True}
    ]
    expected = -(-metadata["usage"]["total_tokens"] // 1000)
    assert metadata["usage"]["credits"] == expected
    assert await credits_used(database, user.user_id) == expected
    assert turn["user_message"]["metadata"] == {}


async def test_the_model_preference_picks_the_model(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    response = await client.put(
        "/api/v1/preferences/default_ai_model", json={"value": "gpt-4o"}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], "Hi")

    assert fake_openai.chat_requests()[0]["model"] == "gpt-4o"
    assert turn["assistant_message"]["metadata"]["model"] == "gpt-4o"


async def test_a_user_out_of_credits_is_refused_before_any_model_call(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    async with database.service_session() as session:
        await session.execute(
            update(tables.profiles)
            .where(tables.profiles.c.id == user.user_id)
            .values(credits_used=1000, credits_limit=1000)
        )

    response = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages", json={"content": "Hi"}, headers=user.headers
    )

    assert response.status_code == 402
    message = response.json()["error"]["message"]
    assert message.startswith("Not enough credits left to start an answer from the assistant")
    assert "0 of this period's 1000 remain (1000 used" in message
    assert "Credits reset on " in message
    assert fake_openai.chat_requests() == []
    listed = await client.get(f"/api/v1/chat/sessions/{chat['id']}/messages", headers=user.headers)
    assert listed.json() == []
