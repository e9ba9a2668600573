"""The profile and preferences through the API."""

from __future__ import annotations

import json

import httpx
import pytest

from autofy.db.engine import Database
from autofy.profiles.schemas import MAX_PREFERENCE_VALUE_BYTES
from tests.api_fixtures import sign_up
from tests.auth.helpers import assert_error, audit_rows, failing_fields


async def test_update_profile_changes_only_what_was_sent_and_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    response = await client.patch(
        "/api/v1/profile",
        json={
            "full_name": "  Ada Lovelace ",
            "timezone": "Europe/Paris",
            "avatar_url": "https://cdn.example.com/a.png",
        },
        headers=user.headers,
    )

    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["full_name"] == "Ada Lovelace"
    assert profile["timezone"] == "Europe/Paris"
    assert profile["avatar_url"] == "https://cdn.example.com/a.png"
    assert profile["onboarding_completed"] is False
    again = await client.patch("/api/v1/profile", json={"onboarding_completed": True}, headers=user.headers)
    assert again.json()["full_name"] == "Ada Lovelace"
    assert again.json()["onboarding_completed"] is True
    assert (await client.get("/api/v1/profile", headers=user.headers)).json() == again.json()
    rows = await audit_rows(database, action="profile.update")
    assert [row["details"] for row in rows] == [
        {"fields": ["avatar_url", "full_name", "timezone"]},
        {"fields": ["onboarding_completed"]},
    ]
    assert all(row["user_id"] == user.user_id for row in rows)


async def test_clearing_the_name_and_avatar(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await client.patch(
        "/api/v1/profile", json={"full_name": "X", "avatar_url": "https://e.example/x"}, headers=user.headers
    )

    response = await client.patch(
        "/api/v1/profile", json={"full_name": None, "avatar_url": None}, headers=user.headers
    )

    assert response.json()["full_name"] is None
    assert response.json()["avatar_url"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"plan_type": "enterprise"}, "plan_type"),
        ({"credits_limit": 10**9}, "credits_limit"),
        ({"credits_used": 0}, "credits_used"),
        ({"email": "other@example.com"}, "email"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "not a url"}, "avatar_url"),
        ({"onboarding_completed": "maybe"}, "onboarding_completed"),
        ({"full_name": "x" * 201}, "full_name"),
    ],
)
async def test_update_profile_refuses_naming_the_field(
    client: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    user = await sign_up(client)

    response = await client.patch("/api/v1/profile", json=payload, headers=user.headers)

    assert_error(response, 422, "validation_failed")
    assert failing_fields(response) == {field}
    profile = (await client.get("/api/v1/profile", headers=user.headers)).json()
    assert profile["plan_type"] == "free"
    assert profile["credits_limit"] == 1000


async def test_update_profile_with_malformed_json(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.patch(
        "/api/v1/profile", content=b"{nope", headers={**user.headers, "Content-Type": "application/json"}
    )

    assert_error(response, 422, "validation_failed")
    assert failing_fields(response) == {"body"}


async def test_preferences_set_get_list_delete(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    value = {"channels": ["email", "telegram"], "quiet_hours": {"from": "22:00", "to": "07:00"}, "level": 2}

    created = await client.put(
        "/api/v1/preferences/notify.rules", json={"value": value}, headers=user.headers
    )
    replaced = await client.put(
        "/api/v1/preferences/notify.rules", json={"value": [1, 2]}, headers=user.headers
    )
    fetched = await client.get("/api/v1/preferences/notify.rules", headers=user.headers)
    listed = await client.get("/api/v1/preferences", headers=user.headers)

    assert created.status_code == 200
    assert created.json()["value"] == value
    assert replaced.json()["value"] == [1, 2]
    assert fetched.json()["value"] == [1, 2]
    assert "notify.rules" in [p["key"] for p in listed.json()]
    deleted = await client.delete("/api/v1/preferences/notify.rules", headers=user.headers)
    assert deleted.status_code == 204
    assert_error(await client.get("/api/v1/preferences/notify.rules", headers=user.headers), 404, "not_found")
    assert_error(
        await client.delete("/api/v1/preferences/notify.rules", headers=user.headers), 404, "not_found"
    )
    actions = [row["action"] for row in await audit_rows(database) if row["resource_type"] == "preference"]
    assert actions == ["preference.set", "preference.set", "preference.delete"]
    assert all("quiet_hours" not in json.dumps(row["details"]) for row in await audit_rows(database))


@pytest.mark.parametrize("value", [None, False, 0, "", [], {}])
async def test_any_json_value_is_a_preference(client: httpx.AsyncClient, value: object) -> None:
    user = await sign_up(client)

    response = await client.put("/api/v1/preferences/anything", json={"value": value}, headers=user.headers)

    assert response.status_code == 200
    assert (await client.get("/api/v1/preferences/anything", headers=user.headers)).json()["value"] == value


async def test_preference_bad_inputs(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    too_big = "x" * MAX_PREFERENCE_VALUE_BYTES

    bad_key = await client.put("/api/v1/preferences/Bad%20Key", json={"value": 1}, headers=user.headers)
    long_key = await client.put(f"/api/v1/preferences/{'k' * 65}", json={"value": 1}, headers=user.headers)
    missing_value = await client.put("/api/v1/preferences/theme", json={}, headers=user.headers)
    extra = await client.put("/api/v1/preferences/theme", json={"value": 1, "other": 2}, headers=user.headers)
    large = await client.put("/api/v1/preferences/theme", json={"value": too_big}, headers=user.headers)
    unknown = await client.get("/api/v1/preferences/never_set", headers=user.headers)

    assert failing_fields(bad_key) == {"path.key"}
    assert failing_fields(long_key) == {"path.key"}
    assert failing_fields(missing_value) == {"value"}
    assert failing_fields(extra) == {"other"}
    assert failing_fields(large) == {"value"}
    assert_error(unknown, 404, "not_found")


async def test_user_b_cannot_read_change_or_delete_user_as_preferences(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    await client.put("/api/v1/preferences/secret_plan", json={"value": "alice's"}, headers=alice.headers)

    read = await client.get("/api/v1/preferences/secret_plan", headers=bob.headers)
    deleted = await client.delete("/api/v1/preferences/secret_plan", headers=bob.headers)
    bobs_list = await client.get("/api/v1/preferences", headers=bob.headers)
    await client.put("/api/v1/preferences/secret_plan", json={"value": "bob's"}, headers=bob.headers)

    assert_error(read, 404, "not_found")
    assert_error(deleted, 404, "not_found")
    assert "secret_plan" not in [p["key"] for p in bobs_list.json()]
    alices = await client.get("/api/v1/preferences/secret_plan", headers=alice.headers)
    assert alices.json()["value"] == "alice's"
    assert (await client.get("/api/v1/profile", headers=bob.headers)).json()["id"] == str(bob.user_id)
