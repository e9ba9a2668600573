"""The answer as server-sent events, for a chat window."""

from __future__ import annotations

import httpx

from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.assistant.test_conversations import gmail_ai_telegram, saved_workflow
from tests.chat.api import as_uuid, connect_openai, sse_events, start_session
from tests.fakes.openai import FakeOpenAI


async def test_stream_sends_tokens_tool_activity_the_final_turn_and_done(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_tool_call("create_workflow", gmail_ai_telegram())
    answer = "Your draft is saved: test it with a sample email, then activate it."
    fake_openai.reply_text(answer)

    response = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages/stream",
        json={"content": "Summarize bank emails to Telegram chat 424242"},
        headers=user.headers,
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "user_message"
    assert kinds[-2:] == ["message", "done"]
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("token")
    tokens = [data["text"] for kind, data in events if kind == "token"]
    assert len(tokens) > 1
    note = "\n\nBefore activating the workflow, connect: Gmail, Telegram (under Integrations)."
    assert "".join(tokens) == answer + note
    tool_result = next(data for kind, data in events if kind == "tool_result")
    assert (tool_result["name"], tool_result["ok"], tool_result["result"]["created"]) == (
        "create_workflow",
        True,
        True,
    )
    turn = events[-2][1]
    assert turn["assistant_message"]["content"] == answer + note
    assert events[0][1]["message"]["id"] == turn["user_message"]["id"]
    # Committed before the final event: the draft and the messages are there.
    workflow, _ = await saved_workflow(database, as_uuid(turn["workflow"]["id"]))
    assert workflow["created_from_chat"] is True
    listed = await client.get(f"/api/v1/chat/sessions/{chat['id']}/messages", headers=user.headers)
    assert [m["id"] for m in listed.json()] == [turn["user_message"]["id"], turn["assistant_message"]["id"]]


async def test_stream_reports_a_provider_failure_as_an_error_event(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.fail(429, "Rate limit reached", path_contains="/chat/completions")

    response = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages/stream", json={"content": "Hi"}, headers=user.headers
    )

    events = sse_events(response.text)
    assert [kind for kind, _ in events] == ["user_message", "error", "message", "done"]
    assert events[1][1]["error"]["code"] == "provider_rate_limited"
    assert events[2][1]["assistant_message"]["metadata"]["error"]["code"] == "provider_rate_limited"


async def test_stream_reports_a_refusal_as_an_error_event_and_saves_nothing(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    await client.patch(
        f"/api/v1/chat/sessions/{chat['id']}", json={"status": "completed"}, headers=user.headers
    )

    response = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages/stream", json={"content": "Hi"}, headers=user.headers
    )

    events = sse_events(response.text)
    assert [kind for kind, _ in events] == ["error", "done"]
    assert events[0][1]["error"]["code"] == "conflict"
    listed = await client.get(f"/api/v1/chat/sessions/{chat['id']}/messages", headers=user.headers)
    assert listed.json() == []
