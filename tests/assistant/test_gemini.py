"""Gemini as the assistant's model and as the embedding model, through langchain-google-genai."""

from __future__ import annotations

import httpx
import pytest

from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.chat.api import connect, say, start_session
from tests.engine.conftest import no_queued_jobs, start_worker, wait_until, worker
from tests.fakes.gemini import FakeGemini

__all__ = ["start_worker", "worker"]


@pytest.mark.usefixtures("worker")  # it computes the embeddings the turn queues
async def test_gemini_runs_the_tool_loop_and_embeds_the_messages(
    client: httpx.AsyncClient, database: Database, fake_gemini: FakeGemini
) -> None:
    user = await sign_up(client)
    await connect(
        client, user, "gemini", {"api_key": fake_gemini.api_key}, {"api_base": fake_gemini.api_base}
    )
    chat = await start_session(client, user)
    fake_gemini.reply_tool_call("search_catalog", {"query": "telegram"})
    fake_gemini.reply_text("Telegram sends messages, photos and documents.")

    turn = await say(client, user, chat["id"], "What can Telegram do?")
    await wait_until(lambda: no_queued_jobs(database), what="the queued embeddings")

    metadata = turn["assistant_message"]["metadata"]
    assert (metadata["provider"], metadata["model"], metadata["model_calls"]) == (
        "gemini",
        "gemini-2.0-flash",
        2,
    )
    second = fake_gemini.requests_to(":streamGenerateContent")[1].json()
    assert "send_message" in str(second["contents"])
    embedding_request = fake_gemini.requests_to(":batchEmbedContents")[0].json()
    assert {item["outputDimensionality"] for item in embedding_request["requests"]} == {1536}
    found = (await client.get("/api/v1/chat/search", params={"q": "telegram"}, headers=user.headers)).json()
    assert found["embedding_model"] == "gemini-embedding-001"
    assert [sorted(hit["matched_by"]) for hit in found["items"]] == [["text", "vector"], ["text", "vector"]]
