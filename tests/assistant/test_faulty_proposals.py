"""Faulty proposals, the way real models misbehave, through the assistant against the fake OpenAI
server: each is refused with a problem the model can act on, and after every case no stored
workflow fails validation, holds a secret, or names another account's object."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from autofy.assistant.loop import MAX_ANSWER_CHARS, MAX_TURN_CREDITS
from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import SignedUpUser, sign_up
from tests.assistant.test_conversations import gmail_ai_telegram, tool_messages
from tests.chat.api import connect, connect_openai, say, start_session
from tests.fakes.openai import FakeOpenAI

BOT_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
OPENAI_KEY = "sk-proj-" + "Zx9Qw3Er7Ty1" * 4
SECRETS = (BOT_TOKEN, OPENAI_KEY, "tok-live-77", "pw-hunter2", "key-q-55")
Proposal = dict[str, Any]


def step(proposal: Proposal, index: int) -> dict[str, Any]:
    found: dict[str, Any] = proposal["steps"][index]
    return found


def set_text(template: str) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        step(proposal, 2)["configuration"]["text"] = template

    return change


def add_http_step(configuration: dict[str, Any]) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        proposal["steps"].append(
            {
                "step_order": 4,
                "step_type": "action",
                "service_name": "core",
                "action_name": "http_request",
                "configuration": {"url": "https://api.example.com/log", "method": "POST", **configuration},
            }
        )

    return change


def set_trigger_config(config: dict[str, Any]) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        proposal["trigger_config"] = config

    return change


def set_conditions(conditions: dict[str, Any]) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        step(proposal, 2)["conditions"] = conditions

    return change


def add_filter(rules: dict[str, Any]) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        proposal["steps"].insert(
            2,
            {
                "step_type": "condition",
                "service_name": "core",
                "action_name": "filter",
                "configuration": rules,
            },
        )
        for order, item in enumerate(proposal["steps"], start=1):
            item["step_order"] = order

    return change


def set_set_fields(fields: dict[str, Any]) -> Callable[[Proposal], None]:
    def change(proposal: Proposal) -> None:
        proposal["steps"].append(
            {
                "step_order": 4,
                "step_type": "action",
                "service_name": "core",
                "action_name": "set_fields",
                "configuration": {"fields": fields},
            }
        )

    return change


def empty_chat_id(proposal: Proposal) -> None:
    step(proposal, 2)["configuration"]["chat_id"] = ""


FAULTS: dict[str, tuple[Callable[[Proposal], None], str]] = {
    "missing-step": (set_text("{{ steps.nope.text }}"), "steps.nope is not an earlier step"),
    "step-by-order-out-of-range": (set_text("{{ steps[5].text }}"), "steps[5] is not an earlier step"),
    "later-step": (set_text("{{ steps.send_message.message_id }}"), "not an earlier step"),
    "undefined-name": (set_text("{{ secrets.token }}"), "'secrets' is not defined"),
    "unknown-field": (set_text("{{ steps.summarize.summary }}"), "has no output field 'summary'"),
    "unknown-filter": (set_text("{{ trigger.subject | shout }}"), "No filter named 'shout'"),
    "dunder-class": (set_text("{{ trigger.__class__ }}"), "'__class__' is not allowed"),
    "dunder-globals": (set_text("{{ trigger['__globals__'] }}"), "'__globals__' is not allowed"),
    "nested-too-deep": (set_text("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"), "nested too deeply"),
    "condition-on-missing-step": (
        set_conditions({"all": [{"left": "{{ steps.classify.label }}", "op": "equals", "right": "x"}]}),
        "steps.classify is not an earlier step",
    ),
    "filter-without-rules": (add_filter({"all": []}), "empty group"),
    "empty-chat-id": (empty_chat_id, "required"),
    "trigger-run-as": (set_trigger_config({"poll_interval_seconds": 60, "run_as": "admin"}), "unknown field"),
    "trigger-integration-id": (
        set_trigger_config({"poll_interval_seconds": 60, "integration_id": str(uuid.uuid4())}),
        "unknown field",
    ),
    "bearer-in-auth-block": (add_http_step({"auth": {"type": "bearer", "token": "tok-live-77"}}), "secret"),
    "authorization-header": (add_http_step({"headers": {"Authorization": "Bearer tok-live-77"}}), "secret"),
    "api-key-header": (add_http_step({"headers": {"X-API-Key": "tok-live-77"}}), "secret"),
    "password-in-body": (add_http_step({"json_body": {"user": "a", "password": "pw-hunter2"}}), "secret"),
    "key-in-query": (add_http_step({"query": {"key": "key-q-55"}}), "secret"),
    "key-in-set-fields": (set_set_fields({"api_key": OPENAI_KEY}), "OpenAI API key"),
    "bot-token-in-text": (set_text(f"Sent by bot{BOT_TOKEN}"), "Telegram bot token"),
    "someone-elses-integration": (
        add_http_step({"integration_id": "OTHER"}),
        "not one of your http integrations",
    ),
}


async def assert_nothing_unsafe_is_stored(
    client: httpx.AsyncClient, database: Database, user: SignedUpUser
) -> None:
    async with database.service_session() as session:
        workflow_ids = list(
            await session.scalars(
                select(tables.workflows.c.id).where(tables.workflows.c.user_id == user.user_id)
            )
        )
        steps = (
            await session.execute(
                select(tables.workflow_steps.c.configuration, tables.workflow_steps.c.conditions)
            )
        ).all()
    stored = json.dumps([list(row) for row in steps])
    assert not any(secret in stored for secret in SECRETS)
    for workflow_id in workflow_ids:
        validation = await client.get(f"/api/v1/workflows/{workflow_id}/validation", headers=user.headers)
        problems = [p for p in validation.json()["problems"] if not p["message"].startswith("Connect ")]
        assert problems == [], problems


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
async def test_a_faulty_proposal_is_refused_and_the_repair_is_saved(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI, fault: str
) -> None:
    user, other = await sign_up(client), await sign_up(client)
    await connect_openai(client, user, fake_openai)
    others_integration = await connect(client, other, "http", {"scheme": "bearer", "token": "other-token"})
    chat = await start_session(client, user)
    change, expected = FAULTS[fault]
    faulty = copy.deepcopy(gmail_ai_telegram())
    change(faulty)
    faulty = json.loads(json.dumps(faulty).replace('"OTHER"', json.dumps(others_integration["id"])))

    fake_openai.reply_tool_call("create_workflow", faulty)
    fake_openai.reply_tool_call("create_workflow", gmail_ai_telegram())
    fake_openai.reply_text("Saved.")
    turn = await say(client, user, chat["id"], "Summarize bank emails to Telegram chat 424242")

    [feedback] = tool_messages(fake_openai.chat_requests()[1])
    assert feedback["created"] is False
    assert any(expected in problem for problem in feedback["problems"]), feedback["problems"]
    assert turn["workflow"] is not None
    await assert_nothing_unsafe_is_stored(client, database, user)


async def test_a_tool_call_cut_at_the_output_limit_is_never_run(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    proposal = gmail_ai_telegram()
    # Cut right after step 2: repaired, the JSON would be a valid two-step workflow.
    arguments = json.dumps(proposal)
    cut_at = arguments.index('{"step_order": 3')

    fake_openai.reply_cut_tool_call("create_workflow", proposal, cut_at=cut_at)
    fake_openai.reply_tool_call("create_workflow", proposal)
    fake_openai.reply_text("Saved.")
    turn = await say(client, user, chat["id"], "Summarize bank emails to Telegram chat 424242")

    [feedback] = tool_messages(fake_openai.chat_requests()[1])
    assert "cut off" in feedback["error"]
    calls = turn["assistant_message"]["metadata"]["tool_calls"]
    assert [(call["name"], call["ok"]) for call in calls] == [
        ("create_workflow", False),
        ("create_workflow", True),
    ]
    async with database.service_session() as session:
        counts = list(
            await session.scalars(
                select(tables.workflows.c.id).where(tables.workflows.c.user_id == user.user_id)
            )
        )
    assert len(counts) == 1
    await assert_nothing_unsafe_is_stored(client, database, user)


async def test_broken_json_arguments_get_the_real_parse_error(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    proposal = gmail_ai_telegram()

    fake_openai.reply_cut_tool_call("create_workflow", proposal, cut_at=40, finish_reason="tool_calls")
    fake_openai.reply_text("Sorry, let me ask instead: which chat?")
    await say(client, user, chat["id"], "Summarize bank emails to Telegram")

    [feedback] = tool_messages(fake_openai.chat_requests()[1])
    assert feedback["error"].startswith("the arguments are not valid JSON (")
    assert "None" not in feedback["error"]


async def test_an_oversized_answer_is_cut_stored_with_a_note_and_credits_are_capped(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    fake_openai.reply_text("word " * 400_000)  # 2 MB
    huge = await say(client, user, chat["id"], "Tell me everything")
    fake_openai.reply_text("Short.", input_tokens=10, output_tokens=5_000_000)
    costly = await say(client, user, chat["id"], "And now briefly")

    content = huge["assistant_message"]["content"]
    assert len(content) < MAX_ANSWER_CHARS + 200
    assert content.endswith("and was cut.]")
    assert costly["assistant_message"]["metadata"]["usage"]["credits"] == MAX_TURN_CREDITS
    async with database.service_session() as session:
        used = await session.scalar(
            select(tables.profiles.c.credits_used).where(tables.profiles.c.id == user.user_id)
        )
    assert used == huge["assistant_message"]["metadata"]["usage"]["credits"] + MAX_TURN_CREDITS


async def test_a_secret_pasted_in_chat_is_replaced_before_it_is_stored_or_sent(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], f"Use my bot token {BOT_TOKEN} to message me daily")

    assert BOT_TOKEN not in turn["user_message"]["content"]
    assert "[secret removed]" in turn["user_message"]["content"]
    assert BOT_TOKEN not in json.dumps(
        fake_openai.requests and [r.body.decode() for r in fake_openai.requests]
    )
    assert "connect Telegram under Integrations" in turn["assistant_message"]["content"]
    async with database.service_session() as session:
        contents = list(await session.scalars(select(tables.chat_messages.c.content)))
    assert not any(BOT_TOKEN in content for content in contents)


async def test_the_model_names_the_users_http_credentials_by_the_id_it_lists(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    credentials = {"scheme": "bearer", "token": "tok-live-77"}
    api = await connect(client, user, "http", credentials, {"api_base": "https://api.example.com"})
    chat = await start_session(client, user)
    proposal = gmail_ai_telegram()
    add_http_step({"integration_id": api["id"]})(proposal)

    fake_openai.reply_tool_call("list_integrations", {})
    fake_openai.reply_tool_call("create_workflow", proposal)
    fake_openai.reply_text("Saved, using your Example API credentials.")
    turn = await say(client, user, chat["id"], "Also log each summary to my API")

    [listed] = tool_messages(fake_openai.chat_requests()[1])
    http = next(item for item in listed["integrations"] if item["service_name"] == "http")
    assert (http["id"], http["api_base"]) == (api["id"], "https://api.example.com")
    assert "http" not in listed["not_connected"]
    assert turn["workflow"] is not None
    assert "tok-live-77" not in json.dumps(fake_openai.chat_requests())
    await assert_nothing_unsafe_is_stored(client, database, user)
