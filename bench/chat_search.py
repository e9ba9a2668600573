"""Chat search (`GET /api/v1/chat/search`) over many messages with 1536-dimension embeddings.

    python -m bench.chat_search                                  # 100,000 messages, one user
    python -m bench.chat_search --messages 1000000 --build-memory 8GB --recall-queries 10
    python -m bench.chat_search --messages 100000 --users 100     # each account owns 1,000
    python -m bench.chat_search --messages 1000000 --keep /var/tmp/chat1m   # load once, keep it
    python -m bench.chat_search --messages 1000000 --keep /var/tmp/chat1m --rebuild \
        --hnsw-options "m = 16, ef_construction = 128" --ef-search 200 --shared-buffers 4GB
    AUTOFY_DATABASE_URL=postgresql://… python -m bench.chat_search

Creates `--users` accounts with SQL and bulk-loads `--messages` chat messages (binary COPY, spread
evenly over the accounts, 50 per chat session) with the chat indexes dropped, then builds them
again and reports each build's time and size (as an operator restoring a dump would: one CREATE
INDEX with `--build-memory` of maintenance_work_mem). Each message has a synthetic embedding:
`--topics` random unit directions, each message one of them plus Gaussian noise (cosine ≈ 0.8 to
its topic's direction, as real embeddings cluster by subject), and a text of words from its topic's
vocabulary and common words, so full text and vectors agree as they do on real chats.

`--keep FOLDER` keeps the embedded server's folder, the database and the vectors there: a later
run with the same folder and the same `--messages --users --topics --seed` skips the load (and
the builds unless `--rebuild`); the server is stopped at the end of every run. `--rebuild` builds
the HNSW index again (with `--hnsw-options`), `--ef-search` overrides the search function's
`hnsw.ef_search` for the run (put back afterwards), `--shared-buffers` sets the embedded server's
(ALTER SYSTEM, so it stays in a kept folder) and `--prewarm` reads the HNSW index into it first
(pg_prewarm), as on a server that has been answering searches for a while.

Then it times the real search path as the first user, RLS-scoped (`chat.service.search_embedded`:
everything `GET /api/v1/chat/search` does after the query is embedded, which is the provider's
time, not ours), `--queries` times after a warm-up, each query a topic's direction plus noise with
two of its words, and prints p50/p95/max in milliseconds; then `--broad-queries` of one common word
each (in a third of all messages), reported apart. Recall@50 of every timed query's 50 vector
candidates against the exact 50 nearest of the searcher's messages by full-precision cosine,
computed here with numpy from the vectors as loaded (not by the database); the queries found worst
are listed with their topic and the topics of what was returned. For `--recall-queries` of them the
same call with index scans off (the database's exact path) gives results@20, the overlap of the 20
results returned. One JSON line, then a table. Target (issue 15): p95 < 50 ms and recall ≥ 0.95 at 1,000,000 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


async def drop_chat_indexes(connection: asyncpg.Connection, methods: str) -> dict[str, str]:
    """Drop the chat messages' indexes of `methods` (`hnsw|gin`; a bulk load is faster without
    them): name → DDL."""
    rows = await connection.fetch(
        """select indexname, indexdef from pg_indexes
           where schemaname = 'public' and tablename = 'chat_messages'
             and indexdef ~* ('using (' || $1 || ') ')""",
        methods,
    )
    for row in rows:
        await connection.execute(f"drop index public.{row['indexname']}")
    return {row["indexname"]: row["indexdef"] for row in rows}


@dataclass(frozen=True)
class Loaded:
    """What was loaded, row by row in load order, kept beside the database: each message's id,
    vector (float32, as stored) and topic, and whether the searching account owns it."""

    ids: np.ndarray  # messages × 16 bytes (uuid)
    vectors: np.ndarray  # messages × DIMENSIONS
    topics: np.ndarray
    searchers: np.ndarray  # bool

    @classmethod
    def open(cls, folder: Path, messages: int, mode: Literal["r", "w+"]) -> Loaded:
        def array(name: str, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
            return np.lib.format.open_memmap(folder / f"{name}.npy", mode=mode, dtype=dtype, shape=shape)

        return cls(
            array("ids", np.uint8, (messages, 16)),
            array("vectors", np.float32, (messages, DIMENSIONS)),
            array("topics", np.int32, (messages,)),
            array("searchers", np.bool_, (messages,)),
        )


async def load_messages(
    connection: asyncpg.Connection,
    corpus: Corpus,
    loaded: Loaded,
    searcher: uuid.UUID,
    rng: np.random.Generator,
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
    sessions = await connection.fetch("select id, user_id from public.chat_sessions order by session_name")
    topics_count = len(corpus.vocabularies)
    metadata = json.dumps({"embedding_model": MODEL})
    messages = len(loaded.ids)
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
            chat = sessions[position % len(sessions)]
            message_id = uuid.uuid4()
            loaded.ids[position] = np.frombuffer(message_id.bytes, dtype=np.uint8)
            loaded.searchers[position] = chat["user_id"] == searcher
            records.append(
                (
                    message_id,
                    chat["id"],
                    "user" if position % 2 == 0 else "assistant",
                    " ".join(words),
                    metadata,
                    vector,
                )
            )
        loaded.vectors[start : start + count] = vectors
        loaded.topics[start : start + count] = topics
        await connection.copy_records_to_table(
            "chat_messages",
            schema_name="public",
            columns=["id", "session_id", "role", "content", "metadata", "embedding"],
            records=records,
        )


def shared_memory_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) * 1024
    return 0


async def peak_shared_memory(peak: list[int]) -> None:
    """Keep the machine's peak shared memory in `peak[0]` (PostgreSQL builds an HNSW graph there)."""
    while True:
        peak[0] = max(peak[0], shared_memory_bytes())
        await asyncio.sleep(1)


def with_options(definition: str, options: str | None) -> str:
    """An HNSW index's definition with `options` (`m = 16, ef_construction = 128`) instead of its own."""
    if options is None or "using hnsw" not in definition.lower():
        return definition
    return re.sub(r"\s+WITH \(.*\)$", "", definition) + f" WITH ({options})"


async def build_indexes(
    connection: asyncpg.Connection, definitions: dict[str, str], memory: str, hnsw_options: str | None
) -> dict[str, Any]:
    """Build each dropped index again, one CREATE INDEX each: seconds, size, the peak shared memory
    it took and pgvector's notices (one says when the graph outgrew maintenance_work_mem)."""
    await connection.execute(f"set maintenance_work_mem = '{memory}'")
    notices: list[str] = []
    connection.add_log_listener(lambda _, message: notices.append(str(message)))
    built: dict[str, Any] = {}
    for name, definition in definitions.items():
        notices.clear()
        before = shared_memory_bytes()
        peak = [before]
        watcher = asyncio.create_task(peak_shared_memory(peak))
        started = time.perf_counter()
        await connection.execute(with_options(definition, hnsw_options))
        seconds = time.perf_counter() - started
        watcher.cancel()
        size = await connection.fetchval("select pg_relation_size($1::regclass)", f"public.{name}")
        built[name] = {
            "seconds": round(seconds, 1),
            "mb": round(size / 2**20, 1),
            "shared_memory_mb": round((peak[0] - before) / 2**20),
            "notices": list(notices),
        }
    await connection.execute("vacuum analyze public.chat_messages")
    await connection.execute("analyze public.chat_sessions")
    return built


async def index_sizes(connection: asyncpg.Connection) -> dict[str, Any]:
    rows = await connection.fetch(
        """select indexname, pg_relation_size(format('public.%I', indexname)::regclass) as size
           from pg_indexes where schemaname = 'public' and tablename = 'chat_messages'
             and (indexdef ilike '%using hnsw%' or indexdef ilike '%using gin%')"""
    )
    return {row["indexname"]: {"seconds": None, "mb": round(row["size"] / 2**20, 1)} for row in rows}


@dataclass(frozen=True)
class Query:
    words: str
    embedding: QueryEmbedding
    topic: int


def queries(corpus: Corpus, count: int, rng: np.random.Generator) -> list[Query]:
    topics = rng.integers(0, len(corpus.vocabularies), count)
    vectors = noisy(corpus, topics, rng)
    return [
        Query(
            " ".join(rng.choice(corpus.vocabularies[topic], 2, replace=False).tolist()),
            QueryEmbedding(vector.tolist(), MODEL),
            int(topic),
        )
        for topic, vector in zip(topics, vectors, strict=True)
    ]


def broad(topical: list[Query]) -> list[Query]:
    """The same vectors with one common word each, which about a third of all messages contain."""
    return [
        Query(BROAD_WORDS[n % len(BROAD_WORDS)], query.embedding, query.topic)
        for n, query in enumerate(topical)
    ]


def exact_nearest(
    loaded: Loaded, batch: list[Query], count: int, chunk: int = 100_000
) -> list[list[uuid.UUID]]:
    """Each query's `count` nearest of the searcher's messages by full-precision cosine (the
    vectors are unit length), exactly: one pass over the loaded vectors for all queries."""
    matrix = np.array([query.embedding.vector for query in batch], dtype=np.float32)
    best_scores = np.full((len(batch), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(batch), 0), dtype=np.int64)
    for start in range(0, len(loaded.vectors), chunk):
        scores = matrix @ np.asarray(loaded.vectors[start : start + chunk]).T
        scores[:, ~np.asarray(loaded.searchers[start : start + chunk])] = -np.inf
        best_scores = np.concatenate([best_scores, scores], axis=1)
        best_rows = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)], axis=1
        )
        if best_scores.shape[1] > count:
            keep = np.argpartition(-best_scores, count, axis=1)[:, :count]
            best_scores = np.take_along_axis(best_scores, keep, axis=1)
            best_rows = np.take_along_axis(best_rows, keep, axis=1)
    return [
        [
            uuid.UUID(bytes=loaded.ids[row].tobytes())
            for row, score in zip(rows, scores, strict=True)
            if score > -np.inf
        ]
        for rows, scores in zip(best_rows, best_scores, strict=True)
    ]


async def search(
    database: Database, user_id: uuid.UUID, query: Query, *, exact: bool = False
) -> tuple[float, list[uuid.UUID], list[tuple[uuid.UUID, float]]]:
    """One search as the user, timed from the transaction's start to its commit: (ms, results,
    vector candidates with their similarity)."""
    started = time.perf_counter()
    async with database.user_session(user_claims(user_id)) as session:
        if exact:
            await session.execute(text("set local enable_indexscan = off"))
        results = await service.search_embedded(session, query.words, query.embedding, limit=RESULTS)
    elapsed = (time.perf_counter() - started) * 1000
    async with database.user_session(user_claims(user_id)) as session:
        if exact:
            await session.execute(text("set local enable_indexscan = off"))
        candidates = await service.repository.vector_search(
            session, query.embedding.vector, MODEL, limit=service.SEARCH_CANDIDATES
        )
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


def topic_of(loaded: Loaded) -> dict[uuid.UUID, int]:
    return {
        uuid.UUID(bytes=message_id.tobytes()): int(topic)
        for message_id, topic in zip(loaded.ids, loaded.topics, strict=True)
    }


def worst_queries(
    loaded: Loaded,
    timed: list[Query],
    found: list[list[tuple[uuid.UUID, float]]],
    recalls: list[float],
    count: int = 5,
) -> list[dict[str, Any]]:
    """The queries with the lowest recall: their topic, and which topics their candidates were in."""
    order = sorted(range(len(timed)), key=lambda n: recalls[n])[:count]
    if not order or recalls[order[0]] >= 1.0:
        return []
    topics = topic_of(loaded)
    worst = []
    for n in order:
        returned = [topics[message_id] for message_id, _ in found[n]]
        worst.append(
            {
                "recall": round(recalls[n], 3),
                "topic": timed[n].topic,
                "candidates": len(returned),
                "candidates_in_topic": sum(topic == timed[n].topic for topic in returned),
                "best_similarity": round(max((similarity for _, similarity in found[n]), default=0.0), 3),
            }
        )
    return worst


def cached_truth(folder: Path, loaded: Loaded, timed: list[Query]) -> list[list[uuid.UUID]]:
    """exact_nearest of the timed queries, computed once per kept folder (the same seed and count
    give the same queries)."""
    cache = folder / f"truth_{len(timed)}.json"
    if cache.exists():
        return [[uuid.UUID(value) for value in nearest] for nearest in json.loads(cache.read_text())]
    truth = exact_nearest(loaded, timed, service.SEARCH_CANDIDATES)
    cache.write_text(json.dumps([[str(value) for value in nearest] for nearest in truth]))
    return truth


async def measure(
    database_url: str,
    folder: Path,
    user_id: uuid.UUID,
    loaded: Loaded,
    all_queries: list[Query],
    broad_queries: list[Query],
    recall_queries: int,
) -> dict[str, Any]:
    database = Database(database_url, pool_size=1)
    # Exact searches on connections of their own: a plan cached with index scans on is never reused.
    exact_database = Database(database_url, pool_size=1)
    timed = all_queries[WARM_UP:]
    try:
        for query in all_queries[:WARM_UP]:
            await search(database, user_id, query)
        timings: list[float] = []
        found: list[tuple[list[uuid.UUID], list[tuple[uuid.UUID, float]]]] = []
        for query in timed:
            elapsed, results, candidates = await search(database, user_id, query)
            timings.append(elapsed)
            found.append((results, candidates))
        broad_timings = [(await search(database, user_id, query))[0] for query in broad_queries]
        result_recall: list[float] = []
        exact_path_recall: list[float] = []
        truth = cached_truth(folder, loaded, timed)
        for query, (results, _), nearest in zip(timed[:recall_queries], found, truth, strict=False):
            _, exact_results, exact_candidates = await search(exact_database, user_id, query, exact=True)
            result_recall.append(overlap(results, exact_results))
            exact_path_recall.append(overlap([message_id for message_id, _ in exact_candidates], nearest))
    finally:
        await database.dispose()
        await exact_database.dispose()
    candidate_recall = [
        overlap([message_id for message_id, _ in candidates], nearest)
        for (_, candidates), nearest in zip(found, truth, strict=True)
    ]
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
        "results_recall_at_20": round(statistics.mean(result_recall), 4) if result_recall else None,
        # The database's own exact path (index scans off) against numpy's exact nearest.
        "exact_path_recall_at_50": round(min(exact_path_recall), 4) if exact_path_recall else None,
        "worst_queries": worst_queries(
            loaded, timed, [candidates for _, candidates in found], candidate_recall
        ),
    }


async def server_facts(connection: asyncpg.Connection) -> dict[str, Any]:
    facts = {
        name: await connection.fetchval(f"show {name}")
        for name in ("server_version", "shared_buffers", "max_parallel_maintenance_workers")
    }
    facts["pgvector"] = await connection.fetchval(
        "select extversion from pg_extension where extname = 'vector'"
    )
    facts["search_function_settings"] = await connection.fetchval(
        "select proconfig from pg_proc where oid = 'public.match_chat_messages'::regproc"
    )
    facts["hnsw_index"] = await connection.fetchval(
        "select indexdef from pg_indexes where indexname = 'idx_chat_messages_embedding'"
    )
    facts["table_mb"] = round(
        await connection.fetchval("select pg_total_relation_size('public.chat_messages')") / 2**20, 1
    )
    return facts


def data_key(args: argparse.Namespace) -> dict[str, int]:
    """What decides the loaded data: a kept database is reused only for the same."""
    return {"messages": args.messages, "users": args.users, "topics": args.topics, "seed": args.seed}


async def prepare(
    database_url: str, args: argparse.Namespace, folder: Path
) -> tuple[uuid.UUID, Loaded, dict[str, Any]]:
    """Load the messages and build their indexes, or find them loaded in a kept folder."""
    state_file = folder / "chat_search.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    connection = await asyncpg.connect(database_url)
    try:
        if state is not None and state["data"] == data_key(args):
            user_id = uuid.UUID(state["user_id"])
            loaded = Loaded.open(folder, args.messages, "r")
            load_seconds = state["load_seconds"]
            definitions = await drop_chat_indexes(connection, "hnsw") if args.rebuild else {}
        else:
            if await connection.fetchval("select exists (select from public.chat_messages)"):
                raise SystemExit(f"{folder} holds other messages than asked for: remove it or use another")
            sessions = max(args.users, -(-args.messages // MESSAGES_PER_SESSION))
            user_id = (await create_accounts(connection, args.users, sessions))[0]
            definitions = await drop_chat_indexes(connection, "hnsw|ivfflat|gin")
            loaded = Loaded.open(folder, args.messages, "w+")
            started = time.perf_counter()
            await load_messages(
                connection, args.corpus, loaded, user_id, np.random.default_rng([args.seed, 1])
            )
            load_seconds = round(time.perf_counter() - started, 1)
            state_file.write_text(
                json.dumps({"data": data_key(args), "user_id": str(user_id), "load_seconds": load_seconds})
            )
        built = await build_indexes(connection, definitions, args.build_memory, args.hnsw_options)
        indexes = await index_sizes(connection) | built
        if args.prewarm:
            # As on a server that has been searching for a while: the HNSW index in shared_buffers.
            await connection.execute("create extension if not exists pg_prewarm")
            await connection.execute("select pg_prewarm('public.idx_chat_messages_embedding')")
        facts = await server_facts(connection)
    finally:
        await connection.close()
    return user_id, loaded, {"load_seconds": load_seconds, "indexes": indexes, "server": facts}


@contextmanager
def search_setting(database_url: str, name: str, value: str | None) -> Iterator[None]:
    """The search function runs with `name = value` until the block ends (its own SET overrides a
    session's), then with its own value again."""
    if value is None:
        yield
        return

    async def alter(statement: str) -> list[str]:
        connection = await asyncpg.connect(database_url)
        try:
            own: list[str] = await connection.fetchval(
                "select proconfig from pg_proc where oid = 'public.match_chat_messages'::regproc"
            )
            await connection.execute(statement)
            return own
        finally:
            await connection.close()

    function = "public.match_chat_messages(vector, text, integer)"
    own = asyncio.run(alter(f"alter function {function} set {name} = {value}"))
    try:
        yield
    finally:
        previous = next((entry.split("=", 1)[1] for entry in own if entry.startswith(f"{name}=")), None)
        restore = f"set {name} = {previous}" if previous is not None else f"reset {name}"
        asyncio.run(alter(f"alter function {function} {restore}"))


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
    parser.add_argument(
        "--recall-queries", type=int, default=20, help="queries also run exactly by the database (results@20)"
    )
    parser.add_argument("--build-memory", default="2GB", help="maintenance_work_mem for CREATE INDEX")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the server, database and vectors here")
    parser.add_argument("--rebuild", action="store_true", help="with --keep: build the HNSW index again")
    parser.add_argument(
        "--hnsw-options", help='the HNSW index\'s WITH options, e.g. "m = 16, ef_construction = 128"'
    )
    parser.add_argument("--ef-search", help="the search function's hnsw.ef_search for this run")
    parser.add_argument("--shared-buffers", help="the embedded server's shared_buffers (ALTER SYSTEM)")
    parser.add_argument(
        "--prewarm", action="store_true", help="read the HNSW index into shared_buffers before the searches"
    )
    args = parser.parse_args()
    args.corpus = corpus(args.topics, np.random.default_rng(args.seed))
    query_rng = np.random.default_rng([args.seed, 2])
    with ExitStack() as stack:
        if args.keep is None:
            folder = Path(tempfile.mkdtemp(prefix="autofy-bench-vectors-", dir="/var/tmp"))
            stack.callback(shutil.rmtree, folder, True)
        else:
            folder = args.keep
            folder.mkdir(parents=True, exist_ok=True)
        settings = {"shared_buffers": args.shared_buffers} if args.shared_buffers else None
        database_url = migrated_database(stack, "bench_chat_search", keep=args.keep, settings=settings)
        user_id, loaded, prepared = asyncio.run(prepare(database_url, args, folder))
        with search_setting(database_url, "hnsw.ef_search", args.ef_search):
            figures = asyncio.run(
                measure(
                    database_url,
                    folder,
                    user_id,
                    loaded,
                    queries(args.corpus, args.queries + WARM_UP, query_rng),
                    broad(queries(args.corpus, args.broad_queries, query_rng)),
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
        "ef_search": args.ef_search,
        "hnsw_options": args.hnsw_options,
        "build_memory": args.build_memory,
        "prewarm": args.prewarm,
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
        print(f"  index {name:<40} built in {index['seconds']!s:>7} s, {index['mb']:>8} MB")
    print(f"{'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'recall@50':>10} {'min':>6} {'results@20':>11}")
    print(
        f"{figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['max_ms']:>8} "
        f"{figures['vector_recall_at_50']:>10} {figures['vector_recall_min']:>6} {figures['results_recall_at_20']!s:>11}"
    )
    print(
        f"target p95 < {TARGET_P95_MS} ms, recall ≥ {TARGET_RECALL}: {'met' if report['target_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
