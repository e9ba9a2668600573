"""Chat search's database functions as they behave on large accounts (bench/chat_search.py measures
them): the full-text function stays scoped to the caller, and the vector function still returns
as many of the caller's nearest messages as asked when other users' vectors are nearer, through
the HNSW index (whose single scan stops at hnsw.ef_search rows before the caller's filter), by
their full-precision distance although the index holds half-precision vectors (0017_chat_halfvec)."""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from autofy.db import migrate, tables
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


def near_by(query: list[float], rng: random.Random, noise: float) -> list[float]:
    vector = [value + rng.gauss(0.0, noise / math.sqrt(DIMENSIONS)) for value in query]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


async def test_vector_search_returns_the_callers_nearest_by_full_precision_among_other_users(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, owner_chat = await chat_of(client)
    _, other_chat = await chat_of(client)
    rng = random.Random(15)
    query = near([1.0] + [0.0] * (DIMENSIONS - 1), rng)
    # Another user's 150 vectors, all nearer the query than any of the owner's 60: a single HNSW
    # scan (ef_search rows before the owner filter) would return none of the owner's.
    others = [near_by(query, rng, 0.3) for _ in range(150)]
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
    exact = {m: similarity(query, v) for m, v in zip(owners, owners_vectors, strict=True)}
    assert min(similarity(query, v) for v in others) > max(exact.values())

    async with database.user_session(user_claims(owner.user_id)) as session:
        # Steer the planner to the HNSW index, as it chooses on an account with many messages.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await session.execute(text(f"set local {setting} = off"))
        rows = (
            await session.execute(_NEAREST, {"v": "[" + ",".join(map(str, query)) + "]", "m": MODEL, "n": 50})
        ).all()
        index_scans = await session.scalar(
            text("select pg_stat_get_xact_numscans('public.idx_chat_messages_embedding'::regclass)")
        )

    assert index_scans == 1
    # The index compares half-precision vectors, which moves similarities by about 1e-4 and swaps
    # near neighbours; its candidates are re-ranked by the full-precision distance, so these are
    # the exact 50 nearest of the owner's, with their exact similarities, nearest first.
    assert {row.message_id for row in rows} == set(sorted(exact, key=lambda m: -exact[m])[:50])
    for row in rows:
        assert row.similarity == pytest.approx(exact[row.message_id], abs=1e-5)
    assert [row.similarity for row in rows] == sorted((row.similarity for row in rows), reverse=True)


def test_the_halfvec_index_migration_downgrades_to_the_full_precision_index(empty_database_url: str) -> None:
    index_and_function = """
        select pg_get_indexdef('public.idx_chat_messages_embedding'::regclass),
               pg_get_functiondef('public.match_chat_messages'::regproc)"""

    async def definitions() -> tuple[str, str]:
        connection = await asyncpg.connect(empty_database_url)
        try:
            index, function = await connection.fetchrow(index_and_function)
            return index, function
        finally:
            await connection.close()

    migrate.upgrade(empty_database_url, "0016_schedule_prepare")
    before = asyncio.run(definitions())
    migrate.upgrade(empty_database_url, "0017_chat_halfvec")
    index, function = asyncio.run(definitions())
    assert "halfvec(1536)) halfvec_cosine_ops" in index
    assert "halfvec" in function
    assert "halfvec" not in before[1]

    migrate.downgrade(empty_database_url, "0016_schedule_prepare")
    assert asyncio.run(definitions()) == before
    assert "vector_cosine_ops" in before[0]


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
