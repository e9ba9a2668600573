"""The audit trail: written by the service, read by its user, changed by nobody."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.db.engine import Database, user_claims
from autofy.db.tables import audit_logs
from tests.api_fixtures import sign_up
from tests.auth.helpers import assert_error, audit_rows, failing_fields


async def test_a_user_lists_their_own_log_newest_first(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await client.put("/api/v1/preferences/a", json={"value": 1}, headers=user.headers)
    await client.patch("/api/v1/profile", json={"full_name": "A"}, headers=user.headers)

    response = await client.get("/api/v1/audit-logs", headers=user.headers)

    assert response.status_code == 200
    page = response.json()
    assert [item["action"] for item in page["items"]] == ["profile.update", "preference.set", "auth.sign_up"]
    assert page["total"] == 3
    assert page["items"][0]["ip_address"] == "198.51.100.7"
    assert page["items"][0]["user_agent"].startswith("python-httpx")


async def test_filters_and_pagination(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    for key in ("a", "b", "c"):
        await client.put(f"/api/v1/preferences/{key}", json={"value": key}, headers=user.headers)

    by_action = await client.get(
        "/api/v1/audit-logs", params={"action": "preference.set"}, headers=user.headers
    )
    by_type = await client.get("/api/v1/audit-logs", params={"resource_type": "user"}, headers=user.headers)
    first = await client.get("/api/v1/audit-logs", params={"limit": 2}, headers=user.headers)
    second = await client.get("/api/v1/audit-logs", params={"limit": 2, "offset": 2}, headers=user.headers)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    since_future = await client.get("/api/v1/audit-logs", params={"since": future}, headers=user.headers)
    until_future = await client.get("/api/v1/audit-logs", params={"until": future}, headers=user.headers)

    assert [i["details"]["key"] for i in by_action.json()["items"]] == ["c", "b", "a"]
    assert [i["action"] for i in by_type.json()["items"]] == ["auth.sign_up"]
    assert len(first.json()["items"]) == 2
    assert first.json()["total"] == 4
    assert [i["action"] for i in second.json()["items"]] == ["preference.set", "auth.sign_up"]
    assert since_future.json()["items"] == []
    assert until_future.json()["total"] == 4


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"since": "yesterday"}, "query.since"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
    ],
)
async def test_bad_filters_get_422(client: httpx.AsyncClient, params: dict[str, object], field: str) -> None:
    user = await sign_up(client)

    response = await client.get("/api/v1/audit-logs", params=params, headers=user.headers)

    assert_error(response, 422, "validation_failed")
    assert failing_fields(response) == {field}


async def test_user_b_sees_none_of_user_as_entries(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    await client.put("/api/v1/preferences/a", json={"value": 1}, headers=alice.headers)

    bobs = (await client.get("/api/v1/audit-logs", headers=bob.headers)).json()

    assert [item["action"] for item in bobs["items"]] == ["auth.sign_up"]
    assert bobs["total"] == 1


async def test_nobody_changes_the_log_through_the_api(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, "/api/v1/audit-logs", headers=user.headers)
        assert_error(response, 405, "method_not_allowed")


async def test_a_user_cannot_insert_audit_rows_directly(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.user_session(user_claims(user.user_id, user.email)) as session:
            await session.execute(
                insert(audit_logs).values(
                    id=uuid.uuid4(), user_id=user.user_id, action="forged", resource_type="x"
                )
            )


async def test_record_writes_as_the_service_in_the_callers_transaction_and_redacts_secrets(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    async with database.user_session(user_claims(user.user_id, user.email)) as session:
        await audit.record(
            session,
            user_id=user.user_id,
            action="integration.create",
            resource_type="integration",
            details={
                "service_name": "openai",
                "api_key": "sk-canary",
                "nested": [{"access_token": "t-canary", "max_tokens": 256}],
                "Signing-Secret": "s-canary",
            },
            meta=RequestInfo(ip_address="2001:db8::1", user_agent="tests"),
        )
        # The transaction is the user's again after the insert.
        role = await session.scalar(text("select current_user"))
        assert role == "authenticated"

    [row] = await audit_rows(database, action="integration.create")
    assert "canary" not in json.dumps(row["details"])
    assert row["details"]["service_name"] == "openai"
    assert row["details"]["nested"] == [{"access_token": "[redacted]", "max_tokens": 256}]
    assert str(row["ip_address"]) == "2001:db8::1"


async def test_record_rolls_back_with_the_change(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)

    async def record_then_fail() -> None:
        async with database.user_session(user_claims(user.user_id, user.email)) as session:
            await audit.record(
                session, user_id=user.user_id, action="workflow.update", resource_type="workflow"
            )
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await record_then_fail()

    assert await audit_rows(database, action="workflow.update") == []
