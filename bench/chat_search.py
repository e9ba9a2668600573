"""Chat search (`GET /api/v1/chat/search`) over many messages with 1536-dimension embeddings.

    python -m bench.chat_search                                  # 100,000 messages, one user
    python -m bench.chat_search --messages 1000000 --build-memory 8GB --recall-queries 10
    python -m bench.chat_search --messages 100000 --users 100     # each account owns 1,000
    AUTOFY_DATABASE_URL=postgresql://… python -m bench.chat_search

Creates `--users` accounts with SQL and bulk-loads `--messages` chat messages (binary COPY, spread
evenly over the accounts, 50 per chat session) with the chat indexes dropped, then builds them
again and reports each build's time and size (as an operator restoring a dump would: one CREATE
INDEX with `--build-memory` of maintenance_work_mem). Each message has a synthetic embedding:
`--topics` random unit directions, each message one of them plus Gaussian noise (cosine ≈ 0.8 to
its topic's direction, as real embeddings cluster by subject), and a text of words from its topic's
vocabulary and common words, so full text and vectors agree as they do on real chats.

Then it times the real search path as the first user, RLS-scoped (`chat.service.search_embedded`:
everything `GET /api/v1/chat/search` does after the query is embedded, which is the provider's
time, not ours), `--queries` times after a warm-up, each query a topic's direction plus noise with
two of its words, and prints p50/p95/max in milliseconds; then `--broad-queries` of one common word
each (in a third of all messages), reported apart. Recall: for `--recall-queries` of them,
the same call with index scans off (exact nearest neighbours, an exact sequential scan) gives the
truth; recall@50 of the vector candidates and overlap of the 20 results returned. One JSON line,
then a table. Target (issue 15): p95 < 50 ms and recall ≥ 0.95 at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from sqlalchemy import text

from autofy.chat import service
from autofy.chat.service import QueryEmbedding
from autofy.db import migrate
from autofy.db.engine import Database, user_claims
from bench.database import migrated_database

DIMENSIONS = 1536
MODEL = "bench-embedding-1536"
MESSAGES_PER_SESSION = 50
RESULTS = 20  # the route's default `limit`
WARM_UP = 10
TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
# Noise per dimension such that a message's cosine to its topic's direction is about 0.8.
NOISE = 0.75 / np.sqrt(DIMENSIONS)
COMMON_WORDS = (
    "please",
    "can",
    "you",
    "help",
    "me",
    "with",
    "the",
    "workflow",
    "send",
    "when",
    "new",
    "message",
    "email",
    "every",
    "day",
    "report",
    "notify",
    "team",
    "check",
    "update",
    "create",
    "list",
    "file",
)
# Common words that are not English stop words: each is in about a third of the messages.
BROAD_WORDS = ("workflow", "email", "report", "notify", "team", "update")
BATCH = 5_000


@dataclass(frozen=True)
class Corpus:
    directions: np.ndarray  # topics × DIMENSIONS, unit rows
    vocabularies: list[list[str]]  # each topic's own words


def corpus(topics: int, rng: np.random.Generator) -> Corpus:
    directions = rng.standard_normal((topics, DIMENSIONS)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    # Six words per topic, some shared between neighbouring topics so full text is not exact.
    vocabularies = [[f"w{(topic * 4 + k) % (topics * 4):05d}" for k in range(6)] for topic in range(topics)]
    return Corpus(directions, vocabularies)


def noisy(corpus: Corpus, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    vectors = corpus.directions[topics] + NOISE * rng.standard_normal((len(topics), DIMENSIONS)).astype(
        np.float32
    )
    normalized: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normalized


def encode_vector(vector: np.ndarray) -> bytes:
    """pgvector's binary format: dimensions and an unused int16, then big-endian float4s."""
    return struct.pack(">HH", len(vector), 0) + vector.astype(">f4").tobytes()


async def create_accounts(connection: asyncpg.Connection, users: int, sessions: int) -> list[uuid.UUID]:
    user_ids = [uuid.uuid4() for _ in range(users)]
    await connection.executemany(
        "insert into auth.users (id, email) values ($1, $2)",
        [(user_id, f"bench-{user_id.hex[:12]}@example.com") for user_id in user_ids],
    )
    await connection.execute(
        """insert into public.chat_sessions (user_id, session_name, status)
           select (array_agg(u order by position))[1 + n % $2], 'Chat ' || n, 'active'
           from unnest($1::uuid[]) with ordinality as users (u, position), generate_series(0, $3 - 1) n
           group by n""",
        user_ids,
        users,
        sessions,
    )
    return user_ids


async def drop_chat_indexes(connection: asyncpg.Connection) -> dict[str, str]:
    """Drop the chat messages' search indexes (a bulk load is faster without them): name → DDL."""
    rows = await connection.fetch(
        """select indexname, indexdef from pg_indexes
           where schemaname = 'public' and tablename = 'chat_messages'
             and (indexdef ilike '%using hnsw%' or indexdef ilike '%using ivfflat%'
                  or indexdef ilike '%using gin%')"""
    )
    for row in rows:
        await connection.execute(f"drop index public.{row['indexname']}")
    return {row["indexname"]: row["indexdef"] for row in rows}


async def load_messages(
    connection: asyncpg.Connection, corpus: Corpus, messages: int, rng: np.random.Generator
) -> None:
    await connection.set_type_codec(
        "vector",
        schema=await connection.fetchval(
            "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
            "where e.extname = 'vector'"
        ),
        encoder=encode_vector,
        decoder=bytes,
        format="binary",
    )
    session_ids = [
        row["id"]
        for row in await connection.fetch("select id from public.chat_sessions order by session_name")
    ]
    topics_count = len(corpus.vocabularies)
    metadata = json.dumps({"embedding_model": MODEL})
    for start in range(0, messages, BATCH):
        count = min(BATCH, messages - start)
        topics = rng.integers(0, topics_count, count)
        vectors = noisy(corpus, topics, rng)
        records = []
        for offset, (topic, vector) in enumerate(zip(topics, vectors, strict=True)):
            position = start + offset
            words = rng.choice(corpus.vocabularies[topic], 4, replace=False).tolist()
            words += rng.choice(COMMON_WORDS, 8).tolist()
            rng.shuffle(words)
            records.append(
                (
                    session_ids[position % len(session_ids)],
                    "user" if position % 2 == 0 else "assistant",
                    " ".join(words),
                    metadata,
                    vector,
                )
            )
        await connection.copy_records_to_table(
            "chat_messages",
            schema_name="public",
            columns=["session_id", "role", "content", "metadata", "embedding"],
            records=records,
        )


async def build_indexes(
    connection: asyncpg.Connection, definitions: dict[str, str], memory: str
) -> dict[str, Any]:
    """Build each dropped index again, one CREATE INDEX each: seconds and size."""
    await connection.execute(f"set maintenance_work_mem = '{memory}'")
    built: dict[str, Any] = {}
    for name, definition in definitions.items():
        started = time.perf_counter()
        await connection.execute(definition)
        seconds = time.perf_counter() - started
        size = await connection.fetchval("select pg_relation_size($1::regclass)", f"public.{name}")
        built[name] = {"seconds": round(seconds, 1), "mb": round(size / 2**20, 1)}
    await connection.execute("vacuum analyze public.chat_messages")
    await connection.execute("analyze public.chat_sessions")
    return built


@dataclass(frozen=True)
class Query:
    words: str
    embedding: QueryEmbedding


def queries(corpus: Corpus, count: int, rng: np.random.Generator) -> list[Query]:
    topics = rng.integers(0, len(corpus.vocabularies), count)
    vectors = noisy(corpus, topics, rng)
    return [
        Query(
            " ".join(rng.choice(corpus.vocabularies[topic], 2, replace=False).tolist()),
            QueryEmbedding(vector.tolist(), MODEL),
        )
        for topic, vector in zip(topics, vectors, strict=True)
    ]


def broad(topical: list[Query]) -> list[Query]:
    """The same vectors with one common word each, which about a third of all messages contain."""
    return [Query(BROAD_WORDS[n % len(BROAD_WORDS)], query.embedding) for n, query in enumerate(topical)]


async def search(
    database: Database, user_id: uuid.UUID, query: Query, *, exact: bool = False
) -> tuple[float, list[uuid.UUID], list[uuid.UUID]]:
    """One search as the user, timed from the transaction's start to its commit: (ms, results,
    vector candidates)."""
    started = time.perf_counter()
    async with database.user_session(user_claims(user_id)) as session:
        if exact:
            await session.execute(text("set local enable_indexscan = off"))
        results = await service.search_embedded(session, query.words, query.embedding, limit=RESULTS)
    elapsed = (time.perf_counter() - started) * 1000
    async with database.user_session(user_claims(user_id)) as session:
        if exact:
            await session.execute(text("set local enable_indexscan = off"))
        candidates = [
            message_id
            for message_id, _ in await service.repository.vector_search(
                session, query.embedding.vector, MODEL, limit=service.SEARCH_CANDIDATES
            )
        ]
    return elapsed, [hit.message.id for hit in results.items], candidates


def overlap(found: Sequence[uuid.UUID], truth: Sequence[uuid.UUID]) -> float:
    return len(set(found) & set(truth)) / len(truth) if truth else 1.0


def percentiles(timings: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max, in milliseconds."""
    ordered = sorted(timings)
    return (
        round(statistics.median(ordered), 2),
        round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        round(ordered[-1], 2),
    )


async def measure(
    database_url: str,
    user_id: uuid.UUID,
    all_queries: list[Query],
    broad_queries: list[Query],
    recall_queries: int,
) -> dict[str, Any]:
    database = Database(database_url, pool_size=1)
    # Exact searches on connections of their own: a plan cached with index scans on is never reused.
    exact_database = Database(database_url, pool_size=1)
    try:
        for query in all_queries[:WARM_UP]:
            await search(database, user_id, query)
        timings: list[float] = []
        found: list[tuple[list[uuid.UUID], list[uuid.UUID]]] = []
        for query in all_queries[WARM_UP:]:
            elapsed, results, candidates = await search(database, user_id, query)
            timings.append(elapsed)
            found.append((results, candidates))
        broad_timings = [(await search(database, user_id, query))[0] for query in broad_queries]
        result_recall: list[float] = []
        candidate_recall: list[float] = []
        for query, (results, candidates) in zip(all_queries[WARM_UP:][:recall_queries], found, strict=False):
            _, exact_results, exact_candidates = await search(exact_database, user_id, query, exact=True)
            result_recall.append(overlap(results, exact_results))
            candidate_recall.append(overlap(candidates, exact_candidates))
    finally:
        await database.dispose()
        await exact_database.dispose()
    p50, p95, most = percentiles(timings)
    broad_p50, broad_p95, broad_most = percentiles(broad_timings)
    return {
        "p50_ms": p50,
        "p95_ms": p95,
        "max_ms": most,
        "broad_p50_ms": broad_p50,
        "broad_p95_ms": broad_p95,
        "broad_max_ms": broad_most,
        "vector_recall_at_50": round(statistics.mean(candidate_recall), 4),
        "vector_recall_min": round(min(candidate_recall), 4),
        "results_recall_at_20": round(statistics.mean(result_recall), 4),
    }


async def server_facts(connection: asyncpg.Connection) -> dict[str, Any]:
    facts = {
        name: await connection.fetchval(f"show {name}")
        for name in ("server_version", "shared_buffers", "max_parallel_maintenance_workers")
    }
    facts["pgvector"] = await connection.fetchval(
        "select extversion from pg_extension where extname = 'vector'"
    )
    facts["table_mb"] = round(
        await connection.fetchval("select pg_total_relation_size('public.chat_messages')") / 2**20, 1
    )
    return facts


async def prepare(
    database_url: str, args: argparse.Namespace, rng: np.random.Generator
) -> tuple[uuid.UUID, dict[str, Any]]:
    connection = await asyncpg.connect(database_url)
    try:
        sessions = max(args.users, -(-args.messages // MESSAGES_PER_SESSION))
        user_ids = await create_accounts(connection, args.users, sessions)
        definitions = await drop_chat_indexes(connection)
        started = time.perf_counter()
        await load_messages(connection, args.corpus, args.messages, rng)
        load_seconds = time.perf_counter() - started
        built = await build_indexes(connection, definitions, args.build_memory)
        facts = await server_facts(connection)
    finally:
        await connection.close()
    return user_ids[0], {"load_seconds": round(load_seconds, 1), "indexes": built, "server": facts}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--users", type=int, default=1, help="accounts sharing the messages; the first searches"
    )
    parser.add_argument("--topics", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--broad-queries", type=int, default=20, help="queries of one common word")
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--build-memory", default="2GB", help="maintenance_work_mem for CREATE INDEX")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    args.corpus = corpus(args.topics, rng)
    with ExitStack() as stack:
        database_url = migrated_database(stack, "bench_chat_search")
        user_id, prepared = asyncio.run(prepare(database_url, args, rng))
        figures = asyncio.run(
            measure(
                database_url,
                user_id,
                queries(args.corpus, args.queries + WARM_UP, rng),
                broad(queries(args.corpus, args.broad_queries, rng)),
                args.recall_queries,
            )
        )
    report = {
        "benchmark": "chat_search",
        "messages": args.messages,
        "users": args.users,
        "searcher_messages": -(-args.messages // args.users),
        "topics": args.topics,
        "queries": args.queries,
        "schema": migrate.head_revision(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        **prepared,
        **figures,
        "target_met": figures["p95_ms"] < TARGET_P95_MS and figures["vector_recall_at_50"] >= TARGET_RECALL,
    }
    print(json.dumps(report))
    print()
    print(f"{args.messages:,} messages, {args.users} user(s), searcher owns {report['searcher_messages']:,}")
    print(f"load {prepared['load_seconds']} s; table {prepared['server']['table_mb']} MB")
    for name, index in prepared["indexes"].items():
        print(f"  index {name:<40} built in {index['seconds']:>7} s, {index['mb']:>8} MB")
    print(f"{'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'recall@50':>10} {'min':>6} {'results@20':>11}")
    print(
        f"{figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['max_ms']:>8} "
        f"{figures['vector_recall_at_50']:>10} {figures['vector_recall_min']:>6} {figures['results_recall_at_20']:>11}"
    )
    print(
        f"target p95 < {TARGET_P95_MS} ms, recall ≥ {TARGET_RECALL}: {'met' if report['target_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
