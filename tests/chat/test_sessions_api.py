"""Chat sessions and messages through the API, and tenant isolation of both."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.fakes.openai import FakeOpenAI


async def test_create_list_get_rename_and_close_a_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    created = await start_session(client, user, session_name="Invoices", intent="help")
    assert (created["session_name"], created["intent"], created["status"], created["workflow_id"]) == (
        "Invoices",
        "help",
        "active",
        None,
    )
    other = await start_session(client, user)

    renamed = await client.patch(
        f"/api/v1/chat/sessions/{created['id']}",
        json={"session_name": "Invoice automation"},
        headers=user.headers,
    )
    assert renamed.status_code == 200, renamed.text
    closed = await client.patch(
        f"/api/v1/chat/sessions/{created['id']}", json={"status": "completed"}, headers=user.headers
    )
    assert closed.json()["status"] == "completed"
    assert closed.json()["session_name"] == "Invoice automation"

    everything = await client.get("/api/v1/chat/sessions", headers=user.headers)
    assert everything.json()["total"] == 2
    assert [item["id"] for item in everything.json()["items"]] == [created["id"], other["id"]]
    active = await client.get("/api/v1/chat/sessions", params={"status": "active"}, headers=user.headers)
    assert [item["id"] for item in active.json()["items"]] == [other["id"]]
    fetched = await client.get(f"/api/v1/chat/sessions/{created['id']}", headers=user.headers)
    assert fetched.json() == closed.json()
    async with database.service_session() as session:
        actions = (
            await session.scalars(
                select(tables.audit_logs.c.action)
                .where(tables.audit_logs.c.resource_id == uuid.UUID(created["id"]))
                .order_by(tables.audit_logs.c.created_at)
            )
        ).all()
    assert list(actions) == ["chat_session.create", "chat_session.update", "chat_session.close"]


async def test_bad_status_or_unknown_field_is_a_422(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    chat = await start_session(client, user)
    for body in ({"status": "deleted"}, {"workflow_id": str(uuid.uuid4())}):
        response = await client.patch(f"/api/v1/chat/sessions/{chat['id']}", json=body, headers=user.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_failed"


async def test_each_turn_is_audited(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_text("Hello")

    turn = await say(client, user, chat["id"], "Hi")

    async with database.service_session() as session:
        details = await session.scalar(
            select(tables.audit_logs.c.details).where(tables.audit_logs.c.action == "chat_session.message")
        )
    assert details == {
        "message_id": turn["assistant_message"]["id"],
        "provider": "openai",
        "workflow_id": None,
        "error": None,
    }


async def test_a_closed_session_takes_no_message_until_reopened(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    await client.patch(
        f"/api/v1/chat/sessions/{chat['id']}", json={"status": "abandoned"}, headers=user.headers
    )

    refused = await client.post(
        f"/api/v1/chat/sessions/{chat['id']}/messages", json={"content": "Hi"}, headers=user.headers
    )
    assert refused.status_code == 409
    assert "abandoned" in refused.json()["error"]["message"]

    await client.patch(f"/api/v1/chat/sessions/{chat['id']}", json={"status": "active"}, headers=user.headers)
    fake_openai.reply_text("Hello")
    assert (await say(client, user, chat["id"], "Hi"))["assistant_message"]["content"] == "Hello"


@pytest.mark.parametrize(
    ("first_message", "intent"),
    [
        ("When a new email arrives, save it to Notion", "workflow_creation"),
        ("Why did my workflow fail last night?", "troubleshooting"),
        ("What is Autofy?", "help"),
    ],
)
async def test_intent_is_classified_from_the_first_message_and_names_the_session(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, first_message: str, intent: str
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], first_message)

    assert turn["session"]["intent"] == intent
    assert turn["session"]["session_name"] == first_message


async def test_the_model_can_set_the_intent(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_tool_call("set_intent", {"intent": "troubleshooting"})
    fake_openai.reply_text("Let us look at it.")

    turn = await say(client, user, chat["id"], "What is Autofy?")

    assert turn["session"]["intent"] == "troubleshooting"


async def test_messages_keep_their_order_role_and_metadata(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_text("One")
    fake_openai.reply_text("Two")
    await say(client, user, chat["id"], "First")
    await say(client, user, chat["id"], "Second")

    response = await client.get(f"/api/v1/chat/sessions/{chat['id']}/messages", headers=user.headers)

    messages = response.json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "First"),
        ("assistant", "One"),
        ("user", "Second"),
        ("assistant", "Two"),
    ]
    assert messages[1]["metadata"]["provider"] == "openai"
    assert "usage" in messages[3]["metadata"]
    assert all("embedding" not in message for message in messages)
    paged = await client.get(
        f"/api/v1/chat/sessions/{chat['id']}/messages", params={"limit": 2, "offset": 2}, headers=user.headers
    )
    assert [m["content"] for m in paged.json()] == ["Second", "Two"]


async def test_another_user_gets_404_on_every_session_route(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    owner = await sign_up(client)
    chat = await start_session(client, owner)
    await say(client, owner, chat["id"], "My secret plans")
    intruder = await sign_up(client)
    await connect_openai(client, intruder, fake_openai)
    base = f"/api/v1/chat/sessions/{chat['id']}"

    responses = [
        await client.get(base, headers=intruder.headers),
        await client.patch(base, json={"session_name": "mine"}, headers=intruder.headers),
        await client.get(f"{base}/messages", headers=intruder.headers),
        await client.post(f"{base}/messages", json={"content": "hi"}, headers=intruder.headers),
        await client.post(f"{base}/messages/stream", json={"content": "hi"}, headers=intruder.headers),
    ]

    assert [response.status_code for response in responses] == [404] * 5
    unknown = await client.get(f"/api/v1/chat/sessions/{uuid.uuid4()}", headers=intruder.headers)
    assert responses[0].json()["error"]["message"].replace(chat["id"], "") == unknown.json()["error"][
        "message"
    ].replace(unknown.url.path.rsplit("/", 1)[1], "")
    assert (await client.get("/api/v1/chat/sessions", headers=intruder.headers)).json()["total"] == 0
    assert fake_openai.requests == []
    owner_view = await client.get(f"{base}/messages", headers=owner.headers)
    assert next(m["content"] for m in owner_view.json()) == "My secret plans"


async def test_sessions_need_a_credential(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/chat/sessions")
    assert response.status_code == 401
