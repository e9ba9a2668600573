"""The canary: credential values stored through the API appear in no response, log line, audit row,
error message or plaintext column, whatever the routes are asked to do with them."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.fakes.gmail import FakeGmail

CANARY_BOT_TOKEN = "999999:CANARY-bot-token-5f1c0a7e"
CANARY_CLIENT_SECRET = "CANARY-client-secret-0b9d44"
CANARY_REFRESH_TOKEN = "1//CANARY-refresh-token-77aa"
CANARY_ACCESS_TOKEN = "ya29.CANARY-access-token-3e21"
CANARIES = (CANARY_BOT_TOKEN, CANARY_CLIENT_SECRET, CANARY_REFRESH_TOKEN, CANARY_ACCESS_TOKEN)


async def test_credential_values_never_leave_the_database_in_clear(
    client: httpx.AsyncClient, database: Database, fake_gmail: FakeGmail, caplog: pytest.LogCaptureFixture
) -> None:
    # Every logger at DEBUG, including those quiet by default: SQL with its parameters and rows,
    # outbound HTTP, the app's own.
    for name in (None, "sqlalchemy", "httpx", "httpcore", "autofy", "fastapi", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_gmail.state.client_secret = CANARY_CLIENT_SECRET
    grant = fake_gmail.grant(access_token=CANARY_ACCESS_TOKEN, refresh_token=CANARY_REFRESH_TOKEN)
    user = await sign_up(client)
    headers = user.headers
    configuration = {"api_base": fake_gmail.url, "token_url": f"{fake_gmail.url}/token"}
    responses: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        responses.append(response)
        return response

    telegram = await call(
        "POST",
        "/api/v1/integrations",
        json={"service_name": "telegram", "credentials": {"bot_token": CANARY_BOT_TOKEN}},
    )
    gmail = await call(
        "POST",
        "/api/v1/integrations",
        json={
            "service_name": "gmail",
            "credentials": {key: str(value) for key, value in grant.items()},
            "configuration": configuration,
        },
    )
    assert (telegram.status_code, gmail.status_code) == (201, 201)
    gmail_url = f"/api/v1/integrations/{gmail.json()['id']}"
    # Reads, a duplicate, refused updates that carry the values, tests that pass and fail.
    await call("GET", "/api/v1/integrations")
    await call("GET", gmail_url)
    await call(
        "POST",
        "/api/v1/integrations",
        json={"service_name": "telegram", "credentials": {"bot_token": CANARY_BOT_TOKEN}},
    )
    await call("PATCH", gmail_url, json={"credentials": {"unknown": CANARY_CLIENT_SECRET}})
    await call("PATCH", gmail_url, json={"credentials": {"client_id": CANARY_CLIENT_SECRET}})
    await call("PATCH", gmail_url, json={"credentials": {"client_secret": ["not", CANARY_CLIENT_SECRET]}})
    await call(
        "POST", "/api/v1/integrations", content=b'{"credentials": {"bot_token": "' + CANARY_BOT_TOKEN.encode()
    )
    assert (await call("POST", f"{gmail_url}/test")).json()["ok"] is True
    fake_gmail.expire_access_tokens()
    fake_gmail.fail(401, f"bad client {CANARY_CLIENT_SECRET[:3]}", path_contains="/token")
    assert (await call("POST", f"{gmail_url}/test")).json()["ok"] is False
    fake_gmail.revoke()
    assert (await call("POST", f"{gmail_url}/test")).json()["status"] == "expired"
    # The OAuth flow, with a code Google refuses.
    authorize = await call("GET", "/api/v1/integrations/gmail/oauth/authorize")
    state = parse_qs(urlsplit(authorize.json()["authorization_url"]).query)["state"][0]
    await call(
        "GET", "/api/v1/integrations/gmail/oauth/callback", params={"code": "4/refused", "state": state}
    )
    assert (await call("GET", "/api/v1/audit-logs")).json()["total"] > 0
    await call("DELETE", f"/api/v1/integrations/{telegram.json()['id']}")

    for response in responses:
        for canary in CANARIES:
            assert canary not in response.text, (response.request.url, response.text)
            assert canary not in str(response.headers)
    assert any(record.name.startswith("sqlalchemy") for record in caplog.records)  # logs were captured
    for record in caplog.records:
        line = record.getMessage() + str(record.args) + str(record.exc_text or "")
        for canary in CANARIES:
            assert canary not in line, line
    async with database.service_session() as session:
        audit = await session.scalar(
            text("select coalesce(jsonb_agg(to_jsonb(a))::text, '') from public.audit_logs a")
        )
        stored = await session.scalar(
            text("select coalesce(jsonb_agg(to_jsonb(i))::text, '') from public.integrations i")
        )
    assert audit
    assert "integration.create" in audit
    for canary in CANARIES:
        assert canary not in audit
        assert canary not in (stored or "")
