"""API keys through the API: create (shown once), list, revoke; scopes, expiry, malformed keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, update

from autofy.db.engine import Database
from autofy.db.tables import api_keys, users
from autofy.security.api_keys import generate_api_key
from tests.api_fixtures import sign_up
from tests.auth.helpers import assert_error, audit_rows, create_api_key, failing_fields


def _key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_create_shows_the_full_key_once_and_list_never_does(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    created = await create_api_key(client, user.headers, permissions=["write", "read"], name="ci")

    assert created["key"].startswith(f"afy_{created['prefix']}_")
    assert created["name"] == "ci"
    assert created["permissions"] == ["read", "write"]
    assert created["is_active"] is True
    assert created["usage_count"] == 0
    listed = await client.get("/api/v1/api-keys", headers=user.headers)
    assert listed.status_code == 200
    [entry] = listed.json()
    assert entry["id"] == created["id"]
    assert "key" not in entry
    assert created["key"] not in listed.text


async def test_a_key_authenticates_as_bearer_or_x_api_key_and_records_its_use(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    created = await create_api_key(client, user.headers, permissions=["read"])

    by_header = await client.get("/api/v1/auth/me", headers=_key_headers(created["key"]))
    by_bearer = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {created['key']}"})

    for response in (by_header, by_bearer):
        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(user.user_id)
        assert response.json()["authenticated_by"] == "api_key"
        assert response.json()["permissions"] == ["read"]
    [entry] = (await client.get("/api/v1/api-keys", headers=user.headers)).json()
    assert entry["usage_count"] == 2
    assert entry["last_used_at"] is not None


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (["read"], {"read"}),
        (["write"], {"read", "write"}),
        (["execute"], {"read"}),
        (["admin"], {"read", "write", "admin"}),
    ],
)
async def test_a_key_can_only_do_what_its_permissions_allow(
    client: httpx.AsyncClient, permissions: list[str], allowed: set[str]
) -> None:
    user = await sign_up(client)
    key = _key_headers((await create_api_key(client, user.headers, permissions=permissions))["key"])

    reads = await client.get("/api/v1/profile", headers=key)
    writes = await client.put("/api/v1/preferences/theme", json={"value": "dark"}, headers=key)
    creates_key = await client.post("/api/v1/api-keys", json={"name": "escalate"}, headers=key)

    for response, needed in ((reads, "read"), (writes, "write"), (creates_key, "admin")):
        if needed in allowed:
            assert response.status_code in {200, 201}, response.text
        else:
            assert_error(response, 403, "forbidden")


async def test_a_revoked_key_gets_401_and_revocation_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    created = await create_api_key(client, user.headers, permissions=["read"])
    assert (await client.get("/api/v1/profile", headers=_key_headers(created["key"]))).status_code == 200

    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=user.headers)

    assert revoked.status_code == 204
    error = assert_error(
        await client.get("/api/v1/profile", headers=_key_headers(created["key"])), 401, "unauthorized"
    )
    assert "revoked" in error["message"]
    [entry] = (await client.get("/api/v1/api-keys", headers=user.headers)).json()
    assert entry["is_active"] is False
    [creation] = await audit_rows(database, action="api_key.create")
    [revocation] = await audit_rows(database, action="api_key.revoke")
    assert str(creation["resource_id"]) == created["id"] == str(revocation["resource_id"])
    assert creation["details"]["key_prefix"] == created["prefix"]
    assert created["key"] not in json.dumps(creation["details"])
    assert created["key"].split("_")[2] not in json.dumps([creation["details"], revocation["details"]])


async def test_an_expired_key_gets_401(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await create_api_key(client, user.headers, permissions=["read"], expires_at=soon)
    assert (await client.get("/api/v1/profile", headers=_key_headers(created["key"]))).status_code == 200

    async with database.service_session() as session:
        await session.execute(
            update(api_keys)
            .where(api_keys.c.id == uuid.UUID(created["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    error = assert_error(
        await client.get("/api/v1/profile", headers=_key_headers(created["key"])), 401, "unauthorized"
    )
    assert "expired" in error["message"]


async def test_a_banned_users_keys_get_401(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    created = await create_api_key(client, user.headers, permissions=["read"])
    assert (await client.get("/api/v1/profile", headers=_key_headers(created["key"]))).status_code == 200

    async with database.service_session() as session:
        await session.execute(
            update(users)
            .where(users.c.id == user.user_id)
            .values(banned_until=datetime.now(UTC) + timedelta(days=1))
        )

    error = assert_error(
        await client.get("/api/v1/profile", headers=_key_headers(created["key"])), 401, "unauthorized"
    )
    assert "suspended" in error["message"]


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test is in progress."""
    seen: list[str] = []
    engine = app.state.database.engine.sync_engine

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_a_malformed_key_is_refused_without_a_database_query(
    client: httpx.AsyncClient, statements: list[str]
) -> None:
    user = await sign_up(client)
    real = (await create_api_key(client, user.headers, permissions=["read"]))["key"]
    bad_checksum = real[:-1] + ("A" if real[-1] != "A" else "B")
    truncated = real[:-3]
    wrong_shape = "afy_short_secret_x"
    statements.clear()

    for malformed in (bad_checksum, truncated, wrong_shape, real + "x"):
        response = await client.get("/api/v1/profile", headers=_key_headers(malformed))
        error = assert_error(response, 401, "unauthorized")
        assert "malformed" in error["message"]

    assert statements == []
    # The listener does see queries: a well-formed key that does not exist is looked up.
    unknown = await client.get("/api/v1/profile", headers=_key_headers(generate_api_key().full))
    assert_error(unknown, 401, "unauthorized")
    assert any("api_keys" in statement for statement in statements)


async def test_create_refuses_bad_inputs(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await create_api_key(client, user.headers, permissions=["read"], name="taken")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    cases = {
        "name": {"permissions": ["read"]},
        "permissions.0": {"name": "k1", "permissions": ["root"]},
        "permissions": {"name": "k2", "permissions": []},
        "expires_at": {"name": "k3", "expires_at": past},
        "plan": {"name": "k4", "plan": "x"},
    }
    for field, payload in cases.items():
        response = await client.post("/api/v1/api-keys", json=payload, headers=user.headers)
        assert_error(response, 422, "validation_failed")
        assert field in failing_fields(response), (field, response.text)
    naive = await client.post(
        "/api/v1/api-keys", json={"name": "k5", "expires_at": "2999-01-01T00:00:00"}, headers=user.headers
    )
    assert failing_fields(naive) == {"expires_at"}
    duplicate = await client.post("/api/v1/api-keys", json={"name": "taken"}, headers=user.headers)
    assert_error(duplicate, 409, "conflict")


async def test_revoking_an_unknown_or_malformed_id(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    unknown = await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=user.headers)
    malformed = await client.delete("/api/v1/api-keys/not-a-uuid", headers=user.headers)

    assert_error(unknown, 404, "not_found")
    assert_error(malformed, 422, "validation_failed")
    assert failing_fields(malformed) == {"path.key_id"}


async def test_user_b_cannot_see_or_revoke_user_as_keys(
    client: httpx.AsyncClient, database: Database
) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    alice_key = await create_api_key(client, alice.headers, permissions=["read"])

    bobs_list = await client.get("/api/v1/api-keys", headers=bob.headers)
    bobs_revoke = await client.delete(f"/api/v1/api-keys/{alice_key['id']}", headers=bob.headers)
    unknown = await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=bob.headers)

    assert bobs_list.json() == []
    assert_error(bobs_revoke, 404, "not_found")
    assert bobs_revoke.json() == unknown.json()
    async with database.service_session() as session:
        active = await session.scalar(
            select(api_keys.c.is_active).where(api_keys.c.id == uuid.UUID(alice_key["id"]))
        )
    assert active is True
    assert (await client.get("/api/v1/profile", headers=_key_headers(alice_key["key"]))).status_code == 200


async def test_keys_act_only_on_their_owners_data(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    bobs_key = _key_headers((await create_api_key(client, bob.headers, permissions=["write"]))["key"])

    await client.put("/api/v1/preferences/theme", json={"value": "bob-theme"}, headers=bobs_key)

    alices = await client.get("/api/v1/preferences/theme", headers=alice.headers)
    assert alices.json()["value"] == "system"
    profile = await client.get("/api/v1/profile", headers=bobs_key)
    assert profile.json()["id"] == str(bob.user_id)
