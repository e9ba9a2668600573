"""Sign-up, sign-in, refresh, sign-out and /me through the API."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import text

from autofy.db.engine import Database
from tests.api_fixtures import DEFAULT_PASSWORD, sign_up
from tests.auth.helpers import assert_error, audit_rows, count_sessions, failing_fields


async def test_sign_up_returns_tokens_that_authenticate_the_new_user(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "Ada@Example.com", "password": DEFAULT_PASSWORD, "full_name": "Ada Lovelace"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["full_name"] == "Ada Lovelace"
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]
    assert me.json()["authenticated_by"] == "jwt"
    assert me.json()["permissions"] == ["admin", "execute", "read", "write"]


async def test_sign_up_creates_the_profile_and_default_preferences(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    profile = await client.get("/api/v1/profile", headers=user.headers)
    preferences = await client.get("/api/v1/preferences", headers=user.headers)

    assert profile.json()["email"] == user.email
    assert profile.json()["plan_type"] == "free"
    assert {p["key"] for p in preferences.json()} >= {"theme", "notifications"}


async def test_sign_up_refuses_a_weak_password_naming_the_field(client: httpx.AsyncClient) -> None:
    for weak in ("short1", "alllowercaseletters", "ada-lovelace-2024"):
        response = await client.post(
            "/api/v1/auth/signup", json={"email": "ada-lovelace@example.com", "password": weak}
        )
        error = assert_error(response, 422, "validation_failed")
        assert {d["field"] for d in error["details"]} == {"password"}


async def test_sign_up_twice_with_one_email_is_a_conflict(client: httpx.AsyncClient) -> None:
    await sign_up(client, email="grace@example.com")

    response = await client.post(
        "/api/v1/auth/signup", json={"email": "GRACE@example.com", "password": DEFAULT_PASSWORD}
    )

    error = assert_error(response, 409, "conflict")
    assert error["details"][0]["field"] == "email"


async def test_sign_up_bad_inputs_get_422_naming_the_field(client: httpx.AsyncClient) -> None:
    malformed = await client.post(
        "/api/v1/auth/signup",
        content=b'{"email": "a@example.com",',
        headers={"Content-Type": "application/json"},
    )
    missing = await client.post("/api/v1/auth/signup", json={"email": "a@example.com"})
    wrong_type = await client.post("/api/v1/auth/signup", json={"email": "a@example.com", "password": 12345})
    bad_email = await client.post(
        "/api/v1/auth/signup", json={"email": "not-an-email", "password": DEFAULT_PASSWORD}
    )
    not_an_object = await client.post("/api/v1/auth/signup", json=["a@example.com"])

    assert_error(malformed, 422, "validation_failed")
    assert failing_fields(malformed) == {"body"}
    assert failing_fields(missing) == {"password"}
    assert failing_fields(wrong_type) == {"password"}
    assert failing_fields(bad_email) == {"email"}
    assert_error(not_an_object, 422, "validation_failed")


async def test_sign_in_returns_tokens_and_is_audited_without_the_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    response = await client.post(
        "/api/v1/auth/signin",
        json={"email": user.email.upper(), "password": user.password},
        headers={"User-Agent": "curl/8.0"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["last_sign_in_at"] is not None
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    [row] = await audit_rows(database, action="auth.sign_in")
    assert row["user_id"] == user.user_id
    assert str(row["ip_address"]) == "198.51.100.7"
    assert row["user_agent"] == "curl/8.0"
    assert user.password not in json.dumps(row["details"])
    assert body["refresh_token"] not in json.dumps(row["details"])


async def test_wrong_password_and_unknown_email_get_the_same_401_and_are_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    wrong_password = await client.post(
        "/api/v1/auth/signin", json={"email": user.email, "password": "Wrong-password-1"}
    )
    unknown_email = await client.post(
        "/api/v1/auth/signin", json={"email": "nobody@example.com", "password": "Wrong-password-1"}
    )

    first = assert_error(wrong_password, 401, "unauthorized")
    second = assert_error(unknown_email, 401, "unauthorized")
    assert first["message"] == second["message"]
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")
    rows = await audit_rows(database, action="auth.sign_in_failed")
    assert [(r["user_id"], r["details"]["email"]) for r in rows] == [
        (user.user_id, user.email),
        (None, "nobody@example.com"),
    ]
    assert all("Wrong-password-1" not in json.dumps(r["details"]) for r in rows)


async def test_refresh_rotates_the_refresh_token(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["refresh_token"] != user.refresh_token
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert me.status_code == 200
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    rotated = (await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})).json()

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})

    assert_error(reuse, 401, "unauthorized")
    newer = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_error(newer, 401, "unauthorized")
    access = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert_error(access, 401, "unauthorized")
    assert await count_sessions(database, user.user_id) == 0
    assert len(await audit_rows(database, action="auth.refresh_token_reused")) == 1


async def test_unknown_refresh_token_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-token"})
    assert_error(response, 401, "unauthorized")
    missing = await client.post("/api/v1/auth/refresh", json={})
    assert failing_fields(missing) == {"refresh_token"}


async def test_sign_out_revokes_the_sessions_access_and_refresh_tokens(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    other_session = (
        await client.post("/api/v1/auth/signin", json={"email": user.email, "password": user.password})
    ).json()

    response = await client.post("/api/v1/auth/signout", headers=user.headers)

    assert response.status_code == 204
    assert_error(await client.get("/api/v1/auth/me", headers=user.headers), 401, "unauthorized")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(refresh, 401, "unauthorized")
    # Only that session: the user's other sign-in still works.
    still_signed_in = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {other_session['access_token']}"}
    )
    assert still_signed_in.status_code == 200
    assert len(await audit_rows(database, action="auth.sign_out")) == 1


async def test_me_without_credentials_gets_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="autofy"'
    basic = await client.get("/api/v1/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(basic, 401, "unauthorized")


async def test_an_api_key_has_no_session_to_sign_out(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "permissions": ["admin"]}, headers=user.headers
    )

    response = await client.post("/api/v1/auth/signout", headers={"X-API-Key": created.json()["key"]})

    assert_error(response, 403, "forbidden")
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200


async def test_an_expired_refresh_token_gets_401(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    async with database.service_session() as session:
        await session.execute(
            text(
                "update auth.refresh_tokens set created_at = now() - interval '31 days' where user_id = :id"
            ),
            {"id": user.user_id},
        )

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})

    error = assert_error(response, 401, "unauthorized")
    assert "expired" in error["message"]


async def test_a_banned_user_cannot_sign_in_and_their_tokens_stop_working(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    async with database.service_session() as session:
        await session.execute(
            text("update auth.users set banned_until = now() + interval '1 day' where id = :id"),
            {"id": user.user_id},
        )

    sign_in = await client.post("/api/v1/auth/signin", json={"email": user.email, "password": user.password})

    assert_error(sign_in, 401, "unauthorized")
    assert_error(await client.get("/api/v1/auth/me", headers=user.headers), 401, "unauthorized")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(refresh, 401, "unauthorized")
    [failure] = await audit_rows(database, action="auth.sign_in_failed")
    assert failure["details"]["reason"] == "banned"
