"""UserSession commits before the response is sent, and rolls back when the route fails."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select
from starlette.types import Message

from autofy.app import create_app
from autofy.auth.dependencies import UserSession, WritePrincipal
from autofy.config import Settings
from autofy.db.engine import Database
from autofy.db.tables import user_preferences
from autofy.errors import ConflictError
from autofy.profiles import repository as profiles_repository
from tests.api_fixtures import sign_up
from tests.auth.helpers import assert_error

failing_routes = APIRouter()


@failing_routes.put("/test-only/write-then-fail")
async def write_then_fail(principal: WritePrincipal, session: UserSession) -> None:
    await profiles_repository.set_preference(session, principal.user_id, "half_done", True)
    raise ConflictError("Failed after writing.")


@pytest.fixture
def app(api_settings: Settings, database_url: str) -> FastAPI:
    application = create_app(api_settings, database_url)
    application.include_router(failing_routes)
    return application


async def _stored_preference(database: Database, user_id: uuid.UUID, key: str) -> object:
    async with database.service_session() as session:
        return await session.scalar(
            select(user_preferences.c.preference_value).where(
                user_preferences.c.user_id == user_id, user_preferences.c.preference_key == key
            )
        )


async def test_the_change_is_committed_when_the_response_starts(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    body = json.dumps({"value": "dark"}).encode()
    requested = False
    seen_when_response_started: list[object] = []

    async def receive() -> Message:
        nonlocal requested
        if requested:
            return {"type": "http.disconnect"}
        requested = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            # Another connection, at the very moment the client could read the answer.
            seen_when_response_started.append(await _stored_preference(database, user.user_id, "theme"))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/api/v1/preferences/theme",
        "raw_path": b"/api/v1/preferences/theme",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {user.access_token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("198.51.100.7", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    assert seen_when_response_started == ["dark"]


async def test_a_change_is_visible_to_the_next_request_at_once(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    put = await client.put("/api/v1/preferences/language", json={"value": "fr"}, headers=user.headers)
    get = await client.get("/api/v1/preferences/language", headers=user.headers)

    assert put.status_code == 200
    assert get.json()["value"] == "fr"


async def test_an_error_inside_the_route_rolls_its_writes_back(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    response = await client.put("/test-only/write-then-fail", headers=user.headers)

    assert_error(response, 409, "conflict")
    assert await _stored_preference(database, user.user_id, "half_done") is None
    assert_error(await client.get("/api/v1/preferences/half_done", headers=user.headers), 404, "not_found")
