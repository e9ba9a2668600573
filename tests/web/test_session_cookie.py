"""The session and CSRF cookies' attributes, in-process (no browser needed)."""

from __future__ import annotations

import re

import httpx
import pytest

from autofy.config import Settings
from tests.api_fixtures import DEFAULT_PASSWORD, api_settings_for


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(database_url, public_url="https://autofy.example")


async def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(client: httpx.AsyncClient) -> None:
    form = await client.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    # The test client speaks http, so it would not send a Secure cookie back: send it by hand.
    seed = form.headers["set-cookie"].split(";", 1)[0]

    response = await client.post(
        "/signup",
        data={"csrf_token": token.group(1), "email": "cookie@example.com", "password": DEFAULT_PASSWORD},
        headers={"Origin": "https://autofy.example", "Cookie": seed},
    )

    assert response.status_code == 303
    cookies = {header.split("=", 1)[0]: header.lower() for header in response.headers.get_list("set-cookie")}
    for name in ("autofy_session", "autofy_csrf"):
        assert "httponly" in cookies[name]
        assert "samesite=lax" in cookies[name]
        assert "secure" in cookies[name]
