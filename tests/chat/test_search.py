"""Search over the caller's own messages: full text always, fused with pgvector similarity where
an embedding model is available; embeddings are written by the service and never readable by users."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from tests.api_fixtures import SignedUpUser, sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.engine.conftest import no_queued_jobs, start_worker, wait_until, worker
from tests.factories import create_chat_message
from tests.fakes.llm_script import hashed_embedding
from tests.fakes.openai import FakeOpenAI

EMBEDDING_MODEL = "text-embedding-3-small"
# Turns queue their messages' embeddings; an engine worker computes them after the answer.
pytestmark = pytest.mark.usefixtures("worker")
__all__ = ["start_worker", "worker"]


async def embedded(database: Database) -> None:
    """Wait until the worker has run every queued job (the turn's embeddings among them)."""
    await wait_until(lambda: no_queued_jobs(database), what="the queued embeddings")


async def search(client: httpx.AsyncClient, user: SignedUpUser, query: str) -> dict[str, Any]:
    response = await client.get("/api/v1/chat/search", params={"q": query}, headers=user.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def stored_embeddings(database: Database, session_id: str) -> list[tuple[str, Any, Any]]:
    async with database.service_session() as session:
        rows = await session.execute(
            select(
                tables.chat_messages.c.content,
                tables.chat_messages.c.embedding,
                tables.chat_messages.c.metadata,
            )
            .where(tables.chat_messages.c.session_id == uuid.UUID(session_id))
            .order_by(tables.chat_messages.c.created_at)
        )
    return [(row.content, row.embedding, (row.metadata or {}).get("embedding_model")) for row in rows]


async def test_full_text_search_works_without_any_embedding_model(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    chat = await start_session(client, user)
    turn = await say(client, user, chat["id"], "Save the invoices from Acme into Notion")
    await say(client, user, chat["id"], "Something else entirely")

    found = await search(client, user, "invoice")

    assert found["embedding_model"] is None
    assert [hit["message"]["id"] for hit in found["items"]] == [turn["user_message"]["id"]]
    assert found["items"][0]["matched_by"] == ["text"]
    assert found["items"][0]["session_name"] == "Save the invoices from Acme into Notion"


async def test_messages_are_embedded_by_the_service_and_search_fuses_both_rankings(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_text("I can file each bank statement in Notion.")
    turn = await say(client, user, chat["id"], "Where should my bank statement emails go?")
    await embedded(database)

    embedding_request = fake_openai.requests_to("/embeddings")[0].json()
    assert embedding_request["model"] == EMBEDDING_MODEL
    assert embedding_request["dimensions"] == 1536
    stored = await stored_embeddings(database, chat["id"])
    assert [(content, model) for content, _, model in stored] == [
        ("Where should my bank statement emails go?", EMBEDDING_MODEL),
        ("I can file each bank statement in Notion.", EMBEDDING_MODEL),
    ]
    assert all(len(vector) == 1536 for _, vector, _ in stored)

    found = await search(client, user, "bank statement")

    assert found["embedding_model"] == EMBEDDING_MODEL
    assert {hit["message"]["id"] for hit in found["items"]} == {
        turn["user_message"]["id"],
        turn["assistant_message"]["id"],
    }
    assert all(sorted(hit["matched_by"]) == ["text", "vector"] for hit in found["items"])
    assert all("embedding" not in hit["message"] for hit in found["items"])


async def test_only_vectors_of_the_same_model_are_compared(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    query = "quarterly tax reminder"
    # Both rows carry exactly the query's vector and no word of it: only the vector can find them.
    same_model = await create_chat_message(
        database,
        uuid.UUID(chat["id"]),
        content="zzz",
        embedding=hashed_embedding(query, 1536),
        metadata={"embedding_model": EMBEDDING_MODEL},
    )
    other_model = await create_chat_message(
        database,
        uuid.UUID(chat["id"]),
        content="yyy",
        embedding=hashed_embedding(query, 1536),
        metadata={"embedding_model": "another-embedding-model"},
    )

    found = await search(client, user, query)

    ids = [hit["message"]["id"] for hit in found["items"]]
    assert str(same_model) in ids
    assert str(other_model) not in ids
    assert found["items"][ids.index(str(same_model))]["matched_by"] == ["vector"]


async def test_search_never_returns_another_users_messages(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    owner = await sign_up(client)
    await connect_openai(client, owner, fake_openai)
    chat = await start_session(client, owner)
    fake_openai.reply_text("Noted: the Initech merger stays secret.")
    await say(client, owner, chat["id"], "Secret merger with Initech")
    assert (await search(client, owner, "merger Initech"))["items"]
    intruder = await sign_up(client)
    await connect_openai(client, intruder, fake_openai)

    found = await search(client, intruder, "merger Initech")

    assert found["items"] == []
    assert found["embedding_model"] == EMBEDDING_MODEL
    # Nor through the vector function itself, with the owner's exact vector.
    vector = "[" + ",".join(map(str, hashed_embedding("Secret merger with Initech", 1536))) + "]"
    async with database.user_session(user_claims(intruder.user_id)) as session:
        rows = (
            await session.execute(
                text("select * from public.match_chat_messages(cast(:v as text)::vector, :m, 100)"),
                {"v": vector, "m": EMBEDDING_MODEL},
            )
        ).all()
    assert rows == []
    async with database.user_session(user_claims(owner.user_id)) as session:
        own = (
            await session.execute(
                text("select * from public.match_chat_messages(cast(:v as text)::vector, :m, 100)"),
                {"v": vector, "m": EMBEDDING_MODEL},
            )
        ).all()
    assert len(own) == 2
    assert set(own[0]._mapping) == {"message_id", "similarity"}


async def test_users_can_neither_read_nor_write_embeddings(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    turn = await say(client, user, chat["id"], "Embed me")
    message_id = uuid.UUID(turn["user_message"]["id"])

    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.user_session(user_claims(user.user_id)) as session:
            await session.execute(
                select(tables.chat_messages.c.embedding).where(tables.chat_messages.c.id == message_id)
            )
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.user_session(user_claims(user.user_id)) as session:
            await session.execute(
                update(tables.chat_messages)
                .where(tables.chat_messages.c.id == message_id)
                .values(embedding=[0.0] * 1536)
            )
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.anon_session() as session:
            await session.execute(
                text("select * from public.match_chat_messages(cast(:v as text)::vector, 'm', 1)"),
                {"v": "[" + ",".join(["0.1"] * 1536) + "]"},
            )


async def test_a_failed_embedding_never_fails_the_chat(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.fail(500, path_contains="/embeddings")
    fake_openai.reply_text("Still here.")

    turn = await say(client, user, chat["id"], "Remember the blue invoice")
    await embedded(database)

    assert turn["assistant_message"]["content"] == "Still here."
    assert [vector for _, vector, _ in await stored_embeddings(database, chat["id"])] == [None, None]
    assert [hit["message"]["id"] for hit in (await search(client, user, "blue invoice"))["items"]] == [
        turn["user_message"]["id"]
    ]


async def test_the_embedding_preference_turns_embeddings_off(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    response = await client.put(
        "/api/v1/preferences/embedding_model", json={"value": False}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    chat = await start_session(client, user)
    fake_openai.reply_text("Understood.")

    await say(client, user, chat["id"], "No vectors please")
    await embedded(database)
    found = await search(client, user, "vectors")

    assert fake_openai.requests_to("/embeddings") == []
    assert found["embedding_model"] is None
    assert len(found["items"]) == 1
