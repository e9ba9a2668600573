"""Provider failures: a clear assistant message with metadata.error, and nothing half-saved."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.assistant.test_conversations import gmail_ai_telegram
from tests.chat.api import connect, connect_openai, say, start_session
from tests.fakes.llm_script import ScriptedReply
from tests.fakes.openai import FakeOpenAI


def fail_after_first_reply(fake: FakeOpenAI, status: int) -> None:
    """Serve the next scripted reply, then answer the following model call with `status`."""
    serve = fake._next_reply

    def next_reply(*arguments: Any) -> ScriptedReply:
        reply = serve(*arguments)
        fake.fail(status, "simulated outage", path_contains="/chat/completions")
        return reply

    fake._next_reply = next_reply  # type: ignore[method-assign,assignment]


async def user_rows(database: Database, user_id: uuid.UUID) -> dict[str, Any]:
    async with database.service_session() as session:
        workflows = await session.scalar(
            select(func.count()).select_from(tables.workflows).where(tables.workflows.c.user_id == user_id)
        )
        credits = await session.scalar(
            select(tables.profiles.c.credits_used).where(tables.profiles.c.id == user_id)
        )
    return {"workflows": workflows, "credits_used": credits}


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (500, "provider_unavailable", "not answering right now"),
        (503, "provider_unavailable", "not answering right now"),
        (429, "provider_rate_limited", "limiting requests"),
    ],
)
async def test_outage_after_a_draft_was_created_rolls_the_draft_back(
    client: httpx.AsyncClient,
    database: Database,
    fake_openai: FakeOpenAI,
    status: int,
    code: str,
    words: str,
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_tool_call("create_workflow", gmail_ai_telegram())
    fail_after_first_reply(fake_openai, status)

    turn = await say(client, user, chat["id"], "Summarize bank emails to Telegram chat 424242")

    assert turn["error"]["code"] == code
    assert turn["error"]["status_code"] == status
    message = turn["assistant_message"]
    assert words in message["content"]
    assert message["metadata"]["error"]["code"] == code
    assert turn["workflow"] is None
    assert turn["session"]["workflow_id"] is None
    assert await user_rows(database, user.user_id) == {"workflows": 0, "credits_used": 0}
    listed = await client.get(f"/api/v1/chat/sessions/{chat['id']}/messages", headers=user.headers)
    assert [(m["role"], m["content"]) for m in listed.json()] == [
        ("user", "Summarize bank emails to Telegram chat 424242"),
        ("assistant", message["content"]),
    ]


async def test_a_refused_key_says_to_check_the_integration_and_never_shows_the_key(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    wrong_key = "sk-wrong-key-0123456789abcdef"
    await connect(client, user, "openai", {"api_key": wrong_key}, {"api_base": fake_openai.api_base})
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], "Hello")

    assert turn["error"]["code"] == "provider_auth_failed"
    assert turn["error"]["status_code"] == 401
    assert "Check or replace the key under Integrations" in turn["assistant_message"]["content"]
    assert wrong_key not in json.dumps(turn)
    assert await user_rows(database, user.user_id) == {"workflows": 0, "credits_used": 0}


async def test_a_provider_that_does_not_answer_in_time_is_a_clear_timeout(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai, timeout_seconds=0.5)
    chat = await start_session(client, user)
    fake_openai.slow(3, path_contains="/chat/completions")

    turn = await say(client, user, chat["id"], "Hello")

    assert turn["error"]["code"] == "provider_unavailable"
    assert "did not answer in time" in turn["assistant_message"]["content"]
    assert await user_rows(database, user.user_id) == {"workflows": 0, "credits_used": 0}


async def test_failed_turns_are_left_out_of_the_models_memory(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.fail(500, path_contains="/chat/completions")
    failed = await say(client, user, chat["id"], "First try")
    fake_openai.reply_text("Hello again")

    await say(client, user, chat["id"], "Second try")

    sent = [message["content"] for message in fake_openai.chat_requests()[-1]["messages"][1:]]
    assert sent == ["First try", "Second try"]
    assert failed["assistant_message"]["content"] not in sent
