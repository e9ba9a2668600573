"""In-process page tests: a browser-like client (cookies, CSRF token, same-origin posts) on the ASGI app."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from tests.api_fixtures import BASE_URL, DEFAULT_PASSWORD, SignedUpUser, sign_up

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebUser:
    """A signed-in browser session and the same account's API token."""

    client: httpx.AsyncClient
    api: SignedUpUser

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, htmx: bool = False
    ) -> httpx.Response:
        """A form post from one of our pages, carrying the CSRF token the page holds."""
        token = _TOKEN.search((await self.client.get("/")).text)
        assert token is not None, "no CSRF token on Home"
        headers = {"Origin": BASE_URL}
        if htmx:
            headers["HX-Request"] = "true"
        return await self.client.post(
            path, data={"csrf_token": token.group(1), **(data or {})}, headers=headers
        )


async def web_user(client: httpx.AsyncClient) -> WebUser:
    """A new account, signed in through the API (for arranging) and through the sign-in form."""
    api = await sign_up(client)
    form = await client.get("/signin")
    token = _TOKEN.search(form.text)
    assert token is not None
    signed_in = await client.post(
        "/signin",
        data={"csrf_token": token.group(1), "email": api.email, "password": DEFAULT_PASSWORD},
        headers={"Origin": BASE_URL},
    )
    assert signed_in.status_code == 303, signed_in.text
    return WebUser(client, api)
