"""Deleting a chat session: its messages go, the draft it made stays, and nobody else can."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.chat.api import say, start_session


async def test_deleting_a_session_deletes_its_messages_and_only_the_owner_can(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await sign_up(client)
    stranger = await sign_up(client)
    created = await start_session(client, owner)
    await say(client, owner, created["id"], "Send my invoices to Notion")

    refused = await client.delete(f"/api/v1/chat/sessions/{created['id']}", headers=stranger.headers)
    assert refused.status_code == 404, refused.text

    deleted = await client.delete(f"/api/v1/chat/sessions/{created['id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    gone = await client.get(f"/api/v1/chat/sessions/{created['id']}", headers=owner.headers)
    assert gone.status_code == 404
    session_id = uuid.UUID(created["id"])
    async with database.service_session() as session:
        messages = await session.scalar(
            select(func.count())
            .select_from(tables.chat_messages)
            .where(tables.chat_messages.c.session_id == session_id)
        )
        actions = (
            await session.scalars(
                select(tables.audit_logs.c.action).where(tables.audit_logs.c.resource_id == session_id)
            )
        ).all()
    assert messages == 0
    assert "chat_session.delete" in actions
