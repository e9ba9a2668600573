"""Explaining a failed run, choosing the provider, and answering without any LLM integration."""

from __future__ import annotations

import httpx
from sqlalchemy import insert

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.assistant.test_conversations import tool_messages
from tests.chat.api import connect_anthropic, connect_openai, say, start_session
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.workflows.api import create_workflow, telegram_step


async def failed_execution(database: Database, workflow_id: str, user_id: object) -> str:
    # Executions are written by the service role only.
    async with database.service_session() as session:
        execution_id = await session.scalar(
            insert(tables.workflow_executions)
            .values(
                workflow_id=workflow_id,
                user_id=user_id,
                execution_status="failed",
                total_steps=1,
                failed_steps=1,
                error_message="Telegram answered 400: Bad Request: chat not found",
                step_results=[
                    {
                        "step_order": 1,
                        "status": "failed",
                        "input": {
                            "chat_id": "999",
                            "text": "Hello",
                            "headers": {"Authorization": "Bearer abc"},
                        },
                        "error": "Telegram answered 400: Bad Request: chat not found",
                    }
                ],
            )
            .returning(tables.workflow_executions.c.id)
        )
    return str(execution_id)


async def test_assistant_explains_a_failed_execution_from_its_step_results(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    workflow = await create_workflow(client, user, steps=[telegram_step(chat_id="999")])
    execution_id = await failed_execution(database, workflow["id"], user.user_id)
    chat = await start_session(client, user)

    fake_openai.reply_tool_call("list_executions", {"status": "failed"})
    fake_openai.reply_tool_call("get_execution", {"execution_id": execution_id})
    fake_openai.reply_tool_call("get_workflow", {"workflow_id": workflow["id"]})
    fake_openai.reply_text("The bot cannot write to chat 999: send it a message first, or fix the chat id.")
    turn = await say(client, user, chat["id"], "Why did my Telegram workflow fail?")

    assert turn["session"]["intent"] == "troubleshooting"
    requests = fake_openai.chat_requests()
    listed = tool_messages(requests[1])[0]
    assert [item["id"] for item in listed["executions"]] == [execution_id]
    execution = tool_messages(requests[2])[-1]
    assert execution["error_message"] == "Telegram answered 400: Bad Request: chat not found"
    assert execution["step_results"][0]["input"]["headers"]["Authorization"] == "[redacted]"
    described = tool_messages(requests[3])[-1]
    assert described["workflow"]["steps"][0]["configuration"]["chat_id"] == "999"
    assert "chat 999" in turn["assistant_message"]["content"]


async def test_tools_cannot_read_another_users_workflow_or_execution(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    owner = await sign_up(client)
    workflow = await create_workflow(client, owner, steps=[telegram_step()])
    execution_id = await failed_execution(database, workflow["id"], owner.user_id)
    intruder = await sign_up(client)
    await connect_openai(client, intruder, fake_openai)
    chat = await start_session(client, intruder)

    fake_openai.reply_tool_call("get_execution", {"execution_id": execution_id})
    fake_openai.reply_tool_call("get_workflow", {"workflow_id": workflow["id"]})
    fake_openai.reply_tool_call("list_executions", {})
    fake_openai.reply_text("I cannot find it.")
    await say(client, intruder, chat["id"], "Explain execution " + execution_id)

    requests = fake_openai.chat_requests()
    assert "does not exist" in tool_messages(requests[1])[-1]["error"]
    assert "does not exist" in tool_messages(requests[2])[-1]["error"]
    assert tool_messages(requests[3])[-1]["executions"] == []


async def test_the_preferred_provider_is_used_when_several_are_connected(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    await connect_anthropic(client, user, fake_anthropic)
    response = await client.put(
        "/api/v1/preferences/default_ai_provider", json={"value": "anthropic"}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    chat = await start_session(client, user)
    fake_anthropic.reply_text("Hello from Claude")

    turn = await say(client, user, chat["id"], "Hi")

    assert turn["assistant_message"]["content"] == "Hello from Claude"
    metadata = turn["assistant_message"]["metadata"]
    assert (metadata["provider"], metadata["model"]) == ("anthropic", "claude-3-5-haiku-latest")
    assert fake_openai.chat_requests() == []


async def test_without_an_llm_integration_the_answer_says_what_to_connect_and_offers_templates(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], "Summarize my emails and send them to Telegram")

    content = turn["assistant_message"]["content"]
    assert "connect an AI provider first: Anthropic, Google Gemini, OpenAI, OpenRouter" in content
    names = [template["name"] for template in turn["templates"]]
    assert names[0] == "Email summaries to Telegram"
    assert "- Email summaries to Telegram: Summarize each new email" in content
    guides = {item["service_name"]: item["how_to_connect"] for item in turn["missing_integrations"]}
    assert set(guides) == {"openai", "anthropic", "gemini", "openrouter"}
    assert "https://platform.openai.com" in guides["openai"]
    assert turn["assistant_message"]["metadata"]["reason"] == "no_llm_integration"
    assert turn["error"] is None
    assert fake_openai.requests == []
