"""The assistant's own overhead per turn: a chat turn against a fake model that answers at once.

    python -m bench.assistant                    # embedded PostgreSQL in a temporary folder
    AUTOFY_DATABASE_URL=postgresql://… python -m bench.assistant
    python -m bench.assistant --turns 200

Runs the API in-process (httpx over ASGI, as the tests do) on a fresh database, with the user's
OpenAI integration pointed at the fake OpenAI server of the tests (tests/fakes/openai.py), which
answers every call immediately over real HTTP. Two kinds of turns are timed from the POST to the
answer: a plain answer (one model call) and one that calls a tool first (two model calls). With a
model that takes no time, the whole turn is Autofy's own overhead (plus loopback HTTP to the fake):
the target is under 100 ms p95. Embeddings are queued by the turn and computed later by a worker,
so they are not on this path (none runs here). A third timing is a chat search, which embeds the
query through the same fake before it ranks the messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import ExitStack
from typing import Any

import httpx
from tests.api_fixtures import api_settings_for, sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.fakes.openai import FakeOpenAI

from autofy.app import create_app
from bench.database import migrated_database


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float], cpu: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "max_ms": round(max(values), 1),
        # CPU of this process (Autofy and the fake) per call: steadier than wall time on a busy machine.
        "cpu_ms_mean": round(statistics.fmean(cpu), 1),
    }


async def run(database_url: str, turns: int) -> dict[str, Any]:
    app = create_app(api_settings_for(database_url), database_url)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    with FakeOpenAI().running() as fake:
        assert isinstance(fake, FakeOpenAI)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
        ):
            user = await sign_up(client)
            await connect_openai(client, user, fake)
            chat = await start_session(client, user)
            for _ in range(3):  # warm-up: imports, pools, first connections
                fake.reply_text("Warm.")
                await say(client, user, chat["id"], "warm up")
            for _ in range(3):
                await client.get("/api/v1/chat/search", params={"q": "warm up"}, headers=user.headers)
            timings: dict[str, list[float]] = {"answer": [], "tool_then_answer": [], "search": []}
            cpu: dict[str, list[float]] = {kind: [] for kind in timings}
            for index in range(turns):
                kind = "answer" if index % 2 == 0 else "tool_then_answer"
                if kind == "tool_then_answer":
                    fake.reply_tool_call("search_catalog", {"query": "send telegram message"})
                fake.reply_text("Telegram can send your summaries.")
                chat = chat if index % 20 else await start_session(client, user)  # bounded history
                started, started_cpu = time.perf_counter(), time.process_time()
                await say(client, user, chat["id"], f"How do I send a Telegram message? ({index})")
                timings[kind].append((time.perf_counter() - started) * 1000)
                cpu[kind].append((time.process_time() - started_cpu) * 1000)
                started, started_cpu = time.perf_counter(), time.process_time()
                found = await client.get(
                    "/api/v1/chat/search", params={"q": "Telegram message"}, headers=user.headers
                )
                timings["search"].append((time.perf_counter() - started) * 1000)
                cpu["search"].append((time.process_time() - started_cpu) * 1000)
                assert found.json()["embedding_model"], "the search did not embed its query"
    return {kind: summary(values, cpu[kind]) | {"calls": len(values)} for kind, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=100)
    arguments = parser.parse_args()
    with ExitStack() as stack:
        database_url = migrated_database(stack, "autofy_bench")
        report = asyncio.run(run(database_url, arguments.turns))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
