"""Small helpers for the API tests of accounts, keys and audit."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select, text

from autofy.db.engine import Database
from autofy.db.tables import audit_logs


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the API's error shape with this status and code; returns the error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], list)
    return error


def failing_fields(response: httpx.Response) -> set[str]:
    return {detail["field"] for detail in response.json()["error"]["details"]}


async def audit_rows(database: Database, *, action: str | None = None) -> list[dict[str, Any]]:
    """Every audit row (read as the service, across all users), oldest first."""
    async with database.service_session() as session:
        query = select(audit_logs).order_by(audit_logs.c.created_at, audit_logs.c.id)
        if action is not None:
            query = query.where(audit_logs.c.action == action)
        return [dict(row._mapping) for row in (await session.execute(query)).all()]


async def create_api_key(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    permissions: list[str],
    name: str | None = None,
    expires_at: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": name or f"key-{uuid.uuid4().hex[:8]}", "permissions": permissions}
    if expires_at is not None:
        payload["expires_at"] = expires_at
    response = await client.post("/api/v1/api-keys", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def count_sessions(database: Database, user_id: uuid.UUID) -> int:
    async with database.service_session() as session:
        count = await session.scalar(
            text("select count(*) from auth.sessions where user_id = :user_id"), {"user_id": user_id}
        )
    return int(count or 0)
