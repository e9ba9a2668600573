"""The assistant's pages in-process (no browser): another user's conversation and draft are out of
reach, and a message needs the CSRF token."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI

from tests.api_fixtures import BASE_URL, DEFAULT_PASSWORD, sign_up
from tests.chat.api import say, start_session


class Browser:
    """A cookie-carrying client signed in through the sign-up form, like a browser."""

    def __init__(self, app: FastAPI) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        self.csrf = ""

    async def sign_up(self) -> None:
        await self.refresh_token("/signup")
        response = await self.post(
            "/signup", {"email": f"web-{uuid.uuid4().hex[:8]}@example.com", "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 303, response.text
        await self.refresh_token("/assistant")  # signing in gave the browser a new CSRF seed

    async def refresh_token(self, path: str) -> None:
        page = await self.http.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None, page.text
        self.csrf = token.group(1)

    async def post(self, path: str, data: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        fields = data | ({"csrf_token": self.csrf} if csrf else {})
        return await self.http.post(path, data=fields, headers={"Origin": BASE_URL})


async def test_another_users_conversation_and_draft_are_not_found_and_messages_need_csrf(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    conversation = await start_session(client, owner, session_name="Owner's plans")
    await say(client, owner, conversation["id"], "Send my invoices to Notion")
    draft = await client.post(
        "/api/v1/workflows", json={"name": "Owner's draft", "trigger_type": "manual"}, headers=owner.headers
    )
    assert draft.status_code == 201, draft.text
    workflow_id = draft.json()["id"]

    stranger = Browser(app)
    await stranger.sign_up()
    base = f"/assistant/{conversation['id']}"
    assert (await stranger.http.get(base)).status_code == 404
    assert (await stranger.http.get(f"{base}/conversation")).status_code == 404
    for path, data in [
        ("/assistant/messages", {"content": "hello", "session_id": conversation["id"]}),
        (f"{base}/rename", {"session_name": "Mine now"}),
        (f"{base}/delete", {}),
        (f"{base}/workflows/{workflow_id}/activate", {}),
        (f"{base}/workflows/{workflow_id}/discard", {}),
    ]:
        response = await stranger.post(path, data)
        assert response.status_code == 404, (path, response.status_code)
    owners_view = await client.get(f"/api/v1/chat/sessions/{conversation['id']}", headers=owner.headers)
    assert owners_view.json()["session_name"] == "Owner's plans"
    assert (await client.get(f"/api/v1/workflows/{workflow_id}", headers=owner.headers)).status_code == 200

    without_token = await stranger.post("/assistant/messages", {"content": "hello"}, csrf=False)
    assert without_token.status_code == 403
    assert (await stranger.http.get("/api/v1/chat/sessions", headers={})).status_code == 401
    await stranger.http.aclose()
