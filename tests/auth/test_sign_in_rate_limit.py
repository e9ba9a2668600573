"""Failed sign-ins are limited per email and per IP address, counted from the audit trail."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from autofy.config import Settings
from autofy.db.engine import Database
from tests.api_fixtures import BASE_URL, api_settings_for, sign_up
from tests.auth.helpers import assert_error

FAILURES_PER_EMAIL = 3
FAILURES_PER_IP = 5
WINDOW_SECONDS = 900


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(
        database_url,
        sign_in_failures_per_email=FAILURES_PER_EMAIL,
        sign_in_failures_per_ip=FAILURES_PER_IP,
        sign_in_failure_window_seconds=WINDOW_SECONDS,
    )


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/signin", json={"email": email, "password": password})


async def test_too_many_failures_for_one_email_get_429_with_retry_after(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    for _ in range(FAILURES_PER_EMAIL):
        assert_error(await _sign_in(client, user.email, "Wrong-password-1"), 401, "unauthorized")

    limited = await _sign_in(client, user.email, user.password)

    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= WINDOW_SECONDS
    # The limit is on that email: someone else signs in from the same address.
    other = await sign_up(client)
    assert (await _sign_in(client, other.email, other.password)).status_code == 200


async def test_too_many_failures_from_one_ip_get_429(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    for attempt in range(FAILURES_PER_IP):
        response = await _sign_in(client, f"guess-{attempt}@example.com", "Wrong-password-1")
        assert_error(response, 401, "unauthorized")

    limited = await _sign_in(client, user.email, user.password)

    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as elsewhere:
        assert (await _sign_in(elsewhere, user.email, user.password)).status_code == 200


async def test_failures_older_than_the_window_no_longer_count(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    for _ in range(FAILURES_PER_EMAIL):
        await _sign_in(client, user.email, "Wrong-password-1")
    assert (await _sign_in(client, user.email, user.password)).status_code == 429

    async with database.service_session() as session:
        await session.execute(
            text(
                "update audit_logs set created_at = now() - make_interval(secs => :age) "
                "where action = 'auth.sign_in_failed'"
            ),
            {"age": WINDOW_SECONDS + 1},
        )

    assert (await _sign_in(client, user.email, user.password)).status_code == 200
