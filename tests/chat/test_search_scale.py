"""Chat search's database functions as they behave on large accounts (bench/chat_search.py measures
them): the full-text function stays scoped to the caller, and the vector function still returns
as many of the caller's nearest messages as asked when other users' vectors are nearer, through
the HNSW index (whose single scan stops at hnsw.ef_search rows before the caller's filter)."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from tests.api_fixtures import SignedUpUser, sign_up
from tests.chat.api import start_session

DIMENSIONS = 1536
MODEL = "text-embedding-3-small"
_TEXT = text("select message_id, rank from public.search_chat_messages_text(:query, 100)")
_NEAREST = text(
    "select message_id, similarity from public.match_chat_messages(cast(:v as text)::vector, :m, :n)"
)


def near(query: list[float], rng: random.Random) -> list[float]:
    """A unit vector about as near `query` as a message on the same subject (cosine ≈ 0.8)."""
    vector = [value + rng.gauss(0.0, 0.75 / math.sqrt(DIMENSIONS)) for value in query]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def similarity(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def add_messages(database: Database, session_id: str, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    async with database.service_session() as session:
        result = await session.execute(
            insert(tables.chat_messages).returning(tables.chat_messages.c.id),
            [{"session_id": uuid.UUID(session_id), "role": "user"} | row for row in rows],
        )
        return [row.id for row in result]


async def chat_of(client: httpx.AsyncClient) -> tuple[SignedUpUser, str]:
    user = await sign_up(client)
    return user, (await start_session(client, user))["id"]


async def test_full_text_function_finds_only_the_callers_messages(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, owner_chat = await chat_of(client)
    _, other_chat = await chat_of(client)
    [owners] = await add_messages(database, owner_chat, [{"content": "Forward the Acme invoices to Notion"}])
    await add_messages(database, other_chat, [{"content": "Acme invoice reminder every Monday"}])

    async with database.user_session(user_claims(owner.user_id)) as session:
        rows = (await session.execute(_TEXT, {"query": "acme invoice"})).all()

    assert [row.message_id for row in rows] == [owners]
    assert rows[0].rank > 0
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.anon_session() as session:
            await session.execute(_TEXT, {"query": "acme invoice"})


async def test_full_text_search_ranks_the_best_match_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    user, chat = await chat_of(client)
    once, twice = await add_messages(
        database,
        chat,
        [
            {"content": "Send the invoice to accounting when the report is ready for review"},
            {"content": "Invoice: send the invoice right away"},
        ],
    )

    response = await client.get("/api/v1/chat/search", params={"q": "invoice"}, headers=user.headers)

    assert response.status_code == 200, response.text
    assert [hit["message"]["id"] for hit in response.json()["items"]] == [str(twice), str(once)]


async def test_vector_search_returns_as_many_of_the_callers_nearest_as_asked_among_other_users(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, owner_chat = await chat_of(client)
    _, other_chat = await chat_of(client)
    rng = random.Random(15)
    query = near([1.0] + [0.0] * (DIMENSIONS - 1), rng)
    # Another user's 150 vectors among the owner's 60, all as near the query: a single HNSW scan
    # (ef_search rows, 40 by default, before the owner filter) would hold only about 11 of the owner's.
    others = [near(query, rng) for _ in range(150)]
    owners_vectors = [near(query, rng) for _ in range(60)]
    await add_messages(
        database,
        other_chat,
        [{"content": "other", "embedding": v, "metadata": {"embedding_model": MODEL}} for v in others],
    )
    owners = await add_messages(
        database,
        owner_chat,
        [{"content": "own", "embedding": v, "metadata": {"embedding_model": MODEL}} for v in owners_vectors],
    )
    exact = sorted(owners, key=lambda m: -similarity(query, owners_vectors[owners.index(m)]))[:50]

    async with database.user_session(user_claims(owner.user_id)) as session:
        # Steer the planner to the HNSW index, as it chooses on an account with many messages.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await session.execute(text(f"set local {setting} = off"))
        rows = (
            await session.execute(_NEAREST, {"v": "[" + ",".join(map(str, query)) + "]", "m": MODEL, "n": 50})
        ).all()

    found = [row.message_id for row in rows]
    assert len(found) == 50
    assert set(found) <= set(owners)
    # Approximate nearest neighbours: nearly all of the exact 50, nearest first.
    assert len(set(found) & set(exact)) >= 45
    assert [row.similarity for row in rows] == sorted((row.similarity for row in rows), reverse=True)


async def test_a_word_in_more_than_a_thousand_messages_ranks_the_newest_thousand(
    client: httpx.AsyncClient, database: Database
) -> None:
    user, chat = await chat_of(client)
    # Inserted in this order, so the best match by rank is the oldest of 1,001 matches.
    [oldest, *newer] = await add_messages(
        database,
        chat,
        [{"content": "invoice invoice invoice invoice"}]
        + [{"content": f"send invoice number {n} to the accounting team"} for n in range(1000)],
    )

    async with database.user_session(user_claims(user.user_id)) as session:
        found = [row.message_id for row in await session.execute(_TEXT, {"query": "invoice"})]

    assert len(found) == 100
    assert oldest not in found
    assert set(found) <= set(newer)
