"""Changing the password and signing out everywhere, through the API."""

from __future__ import annotations

import httpx

from autofy.db.engine import Database
from tests.api_fixtures import DEFAULT_PASSWORD, sign_up
from tests.auth.helpers import assert_error, audit_rows, count_sessions, create_api_key, failing_fields

NEW_PASSWORD = "Another-Staple-Battery-7"


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/signin", json={"email": email, "password": password})


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    other = (await _sign_in(client, user.email, DEFAULT_PASSWORD)).json()
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}

    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )

    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200
    assert_error(await client.get("/api/v1/auth/me", headers=other_headers), 401, "unauthorized")
    assert_error(await _sign_in(client, user.email, DEFAULT_PASSWORD), 401, "unauthorized")
    assert (await _sign_in(client, user.email, NEW_PASSWORD)).status_code == 200
    [changed] = await audit_rows(database, action="auth.password_change")
    assert changed["details"] == {"other_sessions_ended": 1}
    assert NEW_PASSWORD not in str(changed)


async def test_a_wrong_current_password_is_refused_and_counts_as_a_failed_sign_in(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        headers=user.headers,
    )

    assert_error(response, 422, "validation_failed")
    assert failing_fields(response) == {"current_password"}
    [failure] = await audit_rows(database, action="auth.sign_in_failed")
    assert failure["details"] == {"email": user.email, "reason": "wrong_current_password"}
    assert (await _sign_in(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_a_weak_or_unchanged_new_password_says_each_rule_it_breaks(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    weak = await client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=user.headers,
    )
    same = await client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": DEFAULT_PASSWORD},
        headers=user.headers,
    )

    assert_error(weak, 422, "validation_failed")
    assert any("at least 10 characters" in d["message"] for d in weak.json()["error"]["details"])
    assert [d["message"] for d in same.json()["error"]["details"]] == [
        "The new password must differ from the current one."
    ]
    assert (await _sign_in(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_sign_out_everywhere_ends_every_session_but_api_keys_keep_working(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    other = (await _sign_in(client, user.email, DEFAULT_PASSWORD)).json()
    key = await create_api_key(client, user.headers, permissions=["read"])

    response = await client.post("/api/v1/auth/signout-everywhere", headers=user.headers)

    assert response.status_code == 204
    assert await count_sessions(database, user.user_id) == 0
    for token in (user.access_token, other["access_token"]):
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(me, 401, "unauthorized")
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert_error(refreshed, 401, "unauthorized")
    assert (await client.get("/api/v1/auth/me", headers={"X-API-Key": key["key"]})).status_code == 200
    [ended] = await audit_rows(database, action="auth.sign_out_everywhere")
    assert ended["details"] == {"sessions_ended": 2}


async def test_an_api_key_can_neither_change_the_password_nor_sign_out_everywhere(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    key = await create_api_key(client, user.headers, permissions=["admin"])
    headers = {"X-API-Key": key["key"]}

    password = await client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    everywhere = await client.post("/api/v1/auth/signout-everywhere", headers=headers)

    assert_error(password, 403, "forbidden")
    assert_error(everywhere, 403, "forbidden")
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200


async def test_the_sessions_list_names_the_caller_s_own(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await _sign_in(client, user.email, DEFAULT_PASSWORD)

    mine = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    stranger = await sign_up(client)
    theirs = (await client.get("/api/v1/auth/sessions", headers=stranger.headers)).json()

    assert len(mine) == 2
    assert [s["current"] for s in mine] == [False, True]  # newest first: the second sign-in
    assert {s["ip_address"] for s in mine} == {"198.51.100.7"}
    assert all(s["user_agent"].startswith("python-httpx") for s in mine)
    assert len(theirs) == 1
