"""API test fixtures (a pytest plugin, registered in tests/conftest.py).

- `api_settings`: the Settings the app runs with; override the fixture in a module with
  `api_settings_for(database_url, max_request_bytes=...)` for other limits.
- `app`: an Autofy app on this test's fresh database.
- `client`: an httpx.AsyncClient talking to `app` in-process, with its lifespan run.
- `sign_up(client, ...)`: create an account through the API and return its tokens and headers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from autofy.app import create_app
from autofy.config import Settings
from autofy.runtime import generate_encryption_key

TEST_JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256-0123456789"
DEFAULT_PASSWORD = "Correct-Horse-Battery-9"
BASE_URL = "http://testserver"


@dataclass(frozen=True)
class SignedUpUser:
    user_id: uuid.UUID
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def api_settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings for an app on `database_url`: fixed secrets, cheap password hashing (argon2id
    at production cost would make every sign-up in the suite take most of a second), and outbound
    calls allowed to loopback, where the fake third-party servers listen."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": SecretStr(TEST_JWT_SECRET),
        "encryption_keys": SecretStr(generate_encryption_key()),
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
        "outbound_allow_private_network": True,
        "public_url": "http://autofy.test",
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(database_url)


@pytest.fixture
def app(api_settings: Settings, database_url: str) -> FastAPI:
    return create_app(api_settings, database_url)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 50000)), base_url=BASE_URL
        ) as http,
    ):
        yield http


async def sign_up(
    client: httpx.AsyncClient, email: str | None = None, password: str | None = None
) -> SignedUpUser:
    """A new account, signed in. Emails are unique per call unless given."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    password = password or DEFAULT_PASSWORD
    response = await client.post("/api/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body = response.json()
    return SignedUpUser(
        user_id=uuid.UUID(body["user"]["id"]),
        email=email,
        password=password,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )
