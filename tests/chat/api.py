"""Shared arrangements of the chat and assistant tests.

Helpers connect the fake LLM servers as the user's integrations and post messages the way a chat
window does.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.api_fixtures import SignedUpUser
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.workflows.api import connect

__all__ = ["connect"]


async def connect_openai(
    client: httpx.AsyncClient, user: SignedUpUser, fake: FakeOpenAI, **configuration: Any
) -> dict[str, Any]:
    return await connect(
        client, user, "openai", {"api_key": fake.api_key}, {"api_base": fake.api_base} | configuration
    )


async def connect_anthropic(
    client: httpx.AsyncClient, user: SignedUpUser, fake: FakeAnthropic
) -> dict[str, Any]:
    return await connect(client, user, "anthropic", {"api_key": fake.api_key}, {"api_base": fake.api_base})


async def start_session(client: httpx.AsyncClient, user: SignedUpUser, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/chat/sessions", json=fields, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def say(client: httpx.AsyncClient, user: SignedUpUser, session_id: str, content: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/chat/sessions/{session_id}/messages", json={"content": content}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    turn: dict[str, Any] = response.json()
    return turn


def sse_events(body: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def as_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
