"""The assistant's and the search's LLM clients are built once and reused: seen from the fake
provider's side as connections (a client built per turn opens a connection per turn), with a
replaced API key taking effect at the next turn and every connection closed on shutdown."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from autofy.db.engine import Database
from tests.api_fixtures import BASE_URL, SignedUpUser, sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.engine.conftest import StartWorker, no_queued_jobs, start_worker, wait_for, wait_until
from tests.fakes.openai import FakeOpenAI

ROTATED_KEY = "sk-test-rotated-openai-key"
__all__ = ["start_worker"]


async def search(client: httpx.AsyncClient, user: SignedUpUser, query: str) -> dict[str, Any]:
    response = await client.get("/api/v1/chat/search", params={"q": query}, headers=user.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert found["embedding_model"] == "text-embedding-3-small"  # the query was embedded
    return found


async def test_turns_and_searches_reuse_one_client_and_its_connection(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    for number in range(3):
        fake_openai.reply_text(f"Answer number {number}.")
        turn = await say(client, user, chat["id"], f"Question number {number}?")
        assert turn["error"] is None
        assert turn["assistant_message"]["content"] == f"Answer number {number}."
        await search(client, user, "answer")

    assert len(fake_openai.requests_to("/chat/completions")) == 3
    assert fake_openai.connections_to("/chat/completions") == 1
    assert len(fake_openai.requests_to("/embeddings")) == 3
    assert fake_openai.connections_to("/embeddings") == 1


async def test_a_replaced_api_key_is_used_from_the_next_turn_and_the_old_client_closed(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    integration = await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)
    fake_openai.reply_text("With the first key.")
    assert (await say(client, user, chat["id"], "Hello?"))["error"] is None
    await search(client, user, "hello")

    # The provider revokes the first key; the user pastes the new one.
    fake_openai.api_key = ROTATED_KEY
    response = await client.patch(
        f"/api/v1/integrations/{integration['id']}",
        json={"credentials": {"api_key": ROTATED_KEY}},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    fake_openai.reply_text("With the new key.")
    turn = await say(client, user, chat["id"], "Still there?")
    await search(client, user, "still")

    assert turn["error"] is None
    assert turn["assistant_message"]["content"] == "With the new key."
    for path in ("/chat/completions", "/embeddings"):
        requests = fake_openai.requests_to(path)
        assert requests[-1].headers["authorization"] == f"Bearer {ROTATED_KEY}"
        assert fake_openai.connections_to(path) == 2  # a new client, not the old one's pool
    # The clients built with the old key are closed: only the new chat and embeddings ones remain.
    await wait_for(lambda: fake_openai.open_connections() == 2, what="the old clients' connections closing")


async def test_shutting_the_api_down_closes_its_model_clients(app: FastAPI, fake_openai: FakeOpenAI) -> None:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        user = await sign_up(client)
        await connect_openai(client, user, fake_openai)
        chat = await start_session(client, user)
        fake_openai.reply_text("Hi.")
        await say(client, user, chat["id"], "Hi?")
        await search(client, user, "hi")
        await wait_for(
            lambda: fake_openai.open_connections() == 2, what="the chat and embeddings connections"
        )

    await wait_for(lambda: fake_openai.open_connections() == 0, what="every connection closed on shutdown")


async def test_a_workers_embedding_jobs_reuse_one_client(
    client: httpx.AsyncClient, database: Database, fake_openai: FakeOpenAI, start_worker: StartWorker
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    async with start_worker():
        for number in range(3):
            fake_openai.reply_text(f"Answer number {number}.")
            await say(client, user, chat["id"], f"Question number {number}?")
            # One turn's job at a time, so each is its own embedding request.
            await wait_until(lambda: no_queued_jobs(database), what="the turn's embeddings")

    assert len(fake_openai.requests_to("/embeddings")) == 3
    assert fake_openai.connections_to("/embeddings") == 1
