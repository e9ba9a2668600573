"""Conversations with the assistant that end in a draft workflow, through the real LangChain
clients talking to the fake OpenAI and Anthropic servers over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from autofy.connectors.catalog import catalog
from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import SignedUpUser, sign_up
from tests.chat.api import connect, connect_anthropic, connect_openai, say, start_session
from tests.engine.conftest import no_queued_jobs, start_worker, wait_until, worker
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.notion import FakeNotion
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram

CHAT_ID = 424242
__all__ = ["start_worker", "worker"]


def gmail_to_notion(database_id: str) -> dict[str, Any]:
    return {
        "name": "Bank emails to Notion",
        "description": "Every email from my bank becomes a page in my Finances database.",
        "trigger_type": "email",
        "trigger_config": {"poll_interval_seconds": 60},
        "steps": [
            {
                "step_order": 1,
                "step_type": "trigger",
                "service_name": "gmail",
                "action_name": "new_email",
                "configuration": {"query": "from:bank.example"},
            },
            {
                "step_order": 2,
                "step_type": "action",
                "service_name": "notion",
                "action_name": "create_page",
                "configuration": {
                    "parent_database_id": database_id,
                    "title": "{{ trigger.subject }}",
                    "content": "{{ trigger.body_text }}",
                },
            },
        ],
    }


def gmail_ai_telegram(chat_id: int = CHAT_ID) -> dict[str, Any]:
    return {
        "name": "Bank email summaries on Telegram",
        "description": "Summarize each email from my bank and send the summary to me on Telegram.",
        "trigger_type": "email",
        "trigger_config": {"poll_interval_seconds": 60},
        "steps": [
            {
                "step_order": 1,
                "step_type": "trigger",
                "service_name": "gmail",
                "action_name": "new_email",
                "configuration": {"query": "from:bank.example"},
            },
            {
                "step_order": 2,
                "step_type": "action",
                "service_name": "openai",
                "action_name": "summarize",
                "configuration": {"text": "{{ trigger.body_text }}", "max_words": 60},
            },
            {
                "step_order": 3,
                "step_type": "action",
                "service_name": "telegram",
                "action_name": "send_message",
                "configuration": {
                    "chat_id": str(chat_id),
                    "text": "{{ trigger.subject }}: {{ steps.summarize.text }}",
                },
            },
        ],
    }


def scheduled_ai_report(chat_id: int = CHAT_ID) -> dict[str, Any]:
    return {
        "name": "Morning unread-email report",
        "description": "Every weekday at 8, AI writes a report of yesterday's unread email.",
        "trigger_type": "scheduled",
        "trigger_config": {"cron": "0 8 * * 1-5", "timezone": "Europe/Paris"},
        "steps": [
            {
                "step_order": 1,
                "step_type": "action",
                "service_name": "gmail",
                "action_name": "search_emails",
                "configuration": {"query": "is:unread newer_than:1d", "max_results": 20},
            },
            {
                "step_order": 2,
                "step_type": "action",
                "service_name": "openai",
                "action_name": "prompt",
                "configuration": {
                    "prompt": "Report on: {% for m in steps.search_emails.messages %}{{ m.subject }}; {% endfor %}"
                },
            },
            {
                "step_order": 3,
                "step_type": "action",
                "service_name": "telegram",
                "action_name": "send_message",
                "configuration": {"chat_id": str(chat_id), "text": "{{ steps.prompt.text }}"},
            },
        ],
    }


async def saved_workflow(
    database: Database, workflow_id: uuid.UUID
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with database.service_session() as session:
        workflow = (
            (await session.execute(select(tables.workflows).where(tables.workflows.c.id == workflow_id)))
            .mappings()
            .one()
        )
        steps = (
            (
                await session.execute(
                    select(tables.workflow_steps)
                    .where(tables.workflow_steps.c.workflow_id == workflow_id)
                    .order_by(tables.workflow_steps.c.step_order)
                )
            )
            .mappings()
            .all()
        )
    return dict(workflow), [dict(step) for step in steps]


async def session_row(database: Database, session_id: str) -> dict[str, Any]:
    async with database.service_session() as session:
        row = (
            (
                await session.execute(
                    select(tables.chat_sessions).where(tables.chat_sessions.c.id == uuid.UUID(session_id))
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


def assert_valid_in_catalog(workflow: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    problems = catalog().validate_workflow(workflow["trigger_type"], workflow["trigger_config"], steps)
    assert problems == []


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(message["content"]) for message in request["messages"] if message["role"] == "tool"]


async def connect_services(
    client: httpx.AsyncClient, user: SignedUpUser, fake_notion: FakeNotion, fake_telegram: FakeTelegram
) -> None:
    await connect(client, user, "notion", {"token": fake_notion.token}, {"api_base": fake_notion.url})
    await connect(
        client, user, "telegram", {"bot_token": fake_telegram.token}, {"api_base": fake_telegram.url}
    )


async def test_gmail_to_notion_conversation_saves_a_valid_draft_in_a_database_the_user_owns(
    client: httpx.AsyncClient,
    database: Database,
    fake_openai: FakeOpenAI,
    fake_notion: FakeNotion,
    fake_telegram: FakeTelegram,
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    await connect_services(client, user, fake_notion, fake_telegram)
    finances = fake_notion.add_database("Finances", {"Name": "title"})
    chat = await start_session(client, user)

    fake_openai.reply_tool_call("list_notion_databases", {})
    fake_openai.reply_tool_call("create_workflow", gmail_to_notion(finances))
    fake_openai.reply_text("Done: a draft saves each bank email to Finances. Test-run it, then activate it.")
    turn = await say(
        client, user, chat["id"], "Save every email from my bank into my Finances database in Notion"
    )

    lookup_result = tool_messages(fake_openai.chat_requests()[1])[0]
    assert {"id": finances, "title": "Finances"} in lookup_result["items"]
    assert turn["workflow"]["status"] == "draft"
    workflow, steps = await saved_workflow(database, uuid.UUID(turn["workflow"]["id"]))
    assert_valid_in_catalog(workflow, steps)
    assert steps[1]["configuration"]["parent_database_id"] == finances
    assert workflow["created_from_chat"] is True
    assert str(workflow["chat_session_id"]) == chat["id"]
    assert str((await session_row(database, chat["id"]))["workflow_id"]) == turn["workflow"]["id"]
    assert turn["session"]["workflow_id"] == turn["workflow"]["id"]
    assert turn["session"]["intent"] == "workflow_creation"
    # Gmail is not connected yet: the answer says so, and how.
    assert [item["service_name"] for item in turn["missing_integrations"]] == ["gmail"]
    assert "console.cloud.google.com" in turn["missing_integrations"][0]["how_to_connect"]
    assert "connect: Gmail" in turn["assistant_message"]["content"]


async def test_gmail_ai_telegram_conversation_uses_the_users_own_chat(
    client: httpx.AsyncClient,
    database: Database,
    fake_openai: FakeOpenAI,
    fake_notion: FakeNotion,
    fake_telegram: FakeTelegram,
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    await connect_services(client, user, fake_notion, fake_telegram)
    fake_telegram.add_incoming_message(CHAT_ID, "hello bot")
    chat = await start_session(client, user)

    fake_openai.reply_text("Which Telegram chat should get the summaries: your private chat with the bot?")
    first = await say(
        client,
        user,
        chat["id"],
        "When I get an email from my bank, summarize it and send it to me on Telegram",
    )
    assert first["workflow"] is None
    fake_openai.reply_tool_call("list_telegram_chats", {})
    fake_openai.reply_tool_call("create_workflow", gmail_ai_telegram())
    fake_openai.reply_text("Your draft is saved.")
    second = await say(client, user, chat["id"], "Yes, my private chat")

    requests = fake_openai.chat_requests()
    # The model saw the whole conversation, and the chats the bot knows.
    contents = [message.get("content") for message in requests[1]["messages"]]
    assert "Which Telegram chat should get the summaries: your private chat with the bot?" in contents
    assert tool_messages(requests[2])[0]["items"][0]["id"] == CHAT_ID
    workflow, steps = await saved_workflow(database, uuid.UUID(second["workflow"]["id"]))
    assert_valid_in_catalog(workflow, steps)
    assert [(s["service_name"], s["action_name"]) for s in steps] == [
        ("gmail", "new_email"),
        ("openai", "summarize"),
        ("telegram", "send_message"),
    ]
    assert workflow["created_from_chat"] is True
    assert str(workflow["chat_session_id"]) == chat["id"]
    assert str((await session_row(database, chat["id"]))["workflow_id"]) == second["workflow"]["id"]


async def test_scheduled_ai_report_conversation_reads_the_action_schema_first(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    fake_openai.reply_tool_call("describe_action", {"service_name": "openai", "name": "prompt"})
    fake_openai.reply_tool_call("create_workflow", scheduled_ai_report())
    fake_openai.reply_text("Saved as a draft; connect Gmail and Telegram, test it, then activate it.")
    turn = await say(client, user, chat["id"], "Every weekday at 8 send me a report of my unread email")

    schema = tool_messages(fake_openai.chat_requests()[1])[0]
    assert "prompt" in schema["input_schema"]["properties"]
    workflow, steps = await saved_workflow(database, uuid.UUID(turn["workflow"]["id"]))
    assert_valid_in_catalog(workflow, steps)
    assert workflow["trigger_type"] == "scheduled"
    assert workflow["created_from_chat"] is True
    assert str(workflow["chat_session_id"]) == chat["id"]
    assert str((await session_row(database, chat["id"]))["workflow_id"]) == turn["workflow"]["id"]
    assert sorted(item["service_name"] for item in turn["missing_integrations"]) == ["gmail", "telegram"]


async def test_anthropic_assistant_creates_the_draft_too(
    client: httpx.AsyncClient, database: Database, fake_anthropic: FakeAnthropic
) -> None:
    user = await sign_up(client)
    await connect_anthropic(client, user, fake_anthropic)
    chat = await start_session(client, user)

    fake_anthropic.reply_tool_call("create_workflow", gmail_ai_telegram())
    fake_anthropic.reply_text("Saved as a draft.")
    turn = await say(client, user, chat["id"], "Summarize my bank emails to Telegram")

    assert turn["assistant_message"]["metadata"]["provider"] == "anthropic"
    workflow, steps = await saved_workflow(database, uuid.UUID(turn["workflow"]["id"]))
    assert_valid_in_catalog(workflow, steps)
    assert workflow["created_from_chat"] is True
    second_request = fake_anthropic.message_requests()[1]
    tool_results = [
        block
        for message in second_request["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert "created" in json.dumps(tool_results)


@pytest.mark.parametrize(
    ("broken_step", "expected_problem"),
    [
        ({"action_name": "send_msg"}, "did you mean 'send_message'"),
        ({"configuration": {"chat": "42", "text": "hi"}}, "unknown field 'chat'"),
    ],
    ids=["unknown-action", "wrong-field"],
)
async def test_model_repairs_its_proposal_after_the_validation_problems(
    client: httpx.AsyncClient,
    database: Database,
    fake_openai: FakeOpenAI,
    broken_step: dict[str, Any],
    expected_problem: str,
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    broken = gmail_ai_telegram()
    broken["steps"][2] |= broken_step

    fake_openai.reply_tool_call("create_workflow", broken)
    fake_openai.reply_tool_call("create_workflow", gmail_ai_telegram())
    fake_openai.reply_text("Fixed and saved.")
    turn = await say(client, user, chat["id"], "Summarize bank emails to Telegram chat 424242")

    feedback = tool_messages(fake_openai.chat_requests()[1])[0]
    assert feedback["created"] is False
    assert any(
        problem.startswith("step 3: ") and expected_problem in problem for problem in feedback["problems"]
    )
    workflow, steps = await saved_workflow(database, uuid.UUID(turn["workflow"]["id"]))
    assert_valid_in_catalog(workflow, steps)
    calls = turn["assistant_message"]["metadata"]["tool_calls"]
    assert [(call["name"], call["ok"]) for call in calls] == [
        ("create_workflow", False),
        ("create_workflow", True),
    ]


async def test_repairs_are_bounded_and_nothing_invalid_is_saved(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    broken = gmail_ai_telegram()
    broken["steps"][2]["action_name"] = "send_msg"

    for _ in range(4):
        fake_openai.reply_tool_call("create_workflow", broken)
    fake_openai.reply_text("I could not build it: which Telegram action should send the summary?")
    turn = await say(client, user, chat["id"], "Summarize bank emails to Telegram")

    last_feedback = tool_messages(fake_openai.chat_requests()[4])[-1]
    assert "do not try again" in last_feedback["error"]
    assert turn["workflow"] is None
    async with database.service_session() as session:
        count = await session.scalar(
            select(tables.workflows.c.id).where(tables.workflows.c.user_id == user.user_id)
        )
    assert count is None


async def test_ambiguous_request_gets_a_clarifying_question_and_no_workflow(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    fake_openai.reply_text("Which emails: all of them, or only those from a sender?")
    turn = await say(client, user, chat["id"], "Automate my emails")

    assert turn["assistant_message"]["content"] == "Which emails: all of them, or only those from a sender?"
    assert turn["workflow"] is None
    assert turn["session"]["intent"] == "workflow_creation"
    # The model was told how to behave, and given the tools.
    request = fake_openai.chat_requests()[0]
    assert "clarifying question" in request["messages"][0]["content"]
    assert {tool["function"]["name"] for tool in request["tools"]} >= {
        "search_catalog",
        "describe_action",
        "list_integrations",
        "create_workflow",
        "get_execution",
    }


@pytest.mark.usefixtures("worker")  # it computes the embeddings the turn queues
async def test_credentials_never_reach_the_model(
    client: httpx.AsyncClient,
    database: Database,
    fake_openai: FakeOpenAI,
    fake_notion: FakeNotion,
    fake_telegram: FakeTelegram,
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    await connect_services(client, user, fake_notion, fake_telegram)
    fake_notion.add_database("Finances", {"Name": "title"})
    fake_telegram.add_incoming_message(CHAT_ID, "hi")
    chat = await start_session(client, user)

    fake_openai.reply_tool_call("list_integrations", {})
    fake_openai.reply_tool_call("list_notion_databases", {})
    fake_openai.reply_tool_call("list_telegram_chats", {})
    fake_openai.reply_tool_call("describe_action", {"service_name": "telegram", "name": "send_message"})
    fake_openai.reply_text("You have OpenAI, Notion and Telegram connected.")
    await say(client, user, chat["id"], "What do I have connected? My key is not in here.")
    await wait_until(lambda: no_queued_jobs(database), what="the queued embeddings")

    # Five model calls and the embedding of the two messages: every body the provider received.
    bodies = [request.body.decode() for request in fake_openai.requests]
    assert len(fake_openai.chat_requests()) == 5
    assert len(fake_openai.requests_to("/embeddings")) == 1
    listed = tool_messages(fake_openai.chat_requests()[1])[0]
    assert sorted(item["service_name"] for item in listed["integrations"]) == ["notion", "openai", "telegram"]
    for secret in (fake_openai.api_key, fake_notion.token, fake_telegram.token):
        assert all(secret not in body for body in bodies)
