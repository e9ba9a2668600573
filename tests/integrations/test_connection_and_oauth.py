"""The connection test and the Gmail OAuth flow, against the fake Gmail server over real HTTP."""

from __future__ import annotations

import socket
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from autofy.security.crypto import CredentialCipher
from tests.api_fixtures import TEST_JWT_SECRET, SignedUpUser, sign_up
from tests.fakes.gmail import FakeGmail
from tests.fakes.telegram import FakeTelegram
from tests.workflows.api import connect, create_workflow, telegram_step


def _gmail_configuration(fake_gmail: FakeGmail) -> dict[str, str]:
    return {
        "api_base": fake_gmail.url,
        "token_url": f"{fake_gmail.url}/token",
        "authorize_url": f"{fake_gmail.url}/o/oauth2/v2/auth",
    }


async def _connect_granted_gmail(
    client: httpx.AsyncClient, user: SignedUpUser, fake_gmail: FakeGmail
) -> dict[str, Any]:
    granted = {key: str(value) for key, value in fake_gmail.grant().items()}
    return await connect(client, user, "gmail", granted, _gmail_configuration(fake_gmail))


async def _credentials(
    database: Database, app: FastAPI, user: SignedUpUser, integration_id: str
) -> dict[str, Any]:
    async with database.service_session() as session:
        stored = await session.scalar(
            select(tables.integrations.c.credentials).where(
                tables.integrations.c.id == uuid.UUID(integration_id)
            )
        )
    cipher = CredentialCipher.from_settings(app.state.settings)
    return cipher.decrypt(stored, user_id=user.user_id, integration_id=uuid.UUID(integration_id))


async def test_a_passing_test_marks_the_integration_active_with_its_account(
    client: httpx.AsyncClient, fake_gmail: FakeGmail
) -> None:
    user = await sign_up(client)
    integration = await _connect_granted_gmail(client, user, fake_gmail)

    response = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["ok"], result["status"], result["account"]) == (True, "active", "me@example.com")
    assert fake_gmail.requests_to("/profile")
    stored = (await client.get(f"/api/v1/integrations/{integration['id']}", headers=user.headers)).json()
    assert stored["last_tested_at"] is not None
    assert (stored["status"], stored["error_message"], stored["account"]) == (
        "active",
        None,
        "me@example.com",
    )


async def test_a_revoked_grant_marks_the_integration_expired(
    client: httpx.AsyncClient, fake_gmail: FakeGmail
) -> None:
    user = await sign_up(client)
    integration = await _connect_granted_gmail(client, user, fake_gmail)
    fake_gmail.revoke()

    response = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    assert response.status_code == 200
    result = response.json()
    assert (result["ok"], result["status"]) == (False, "expired")
    assert "revoked" in result["message"]
    stored = (await client.get(f"/api/v1/integrations/{integration['id']}", headers=user.headers)).json()
    assert stored["status"] == "expired"
    assert "revoked" in stored["error_message"]


async def test_a_failing_service_leaves_the_status_and_records_the_failure(
    client: httpx.AsyncClient, fake_gmail: FakeGmail
) -> None:
    user = await sign_up(client)
    integration = await _connect_granted_gmail(client, user, fake_gmail)
    fake_gmail.fail(500, "Backend Error", path_contains="/profile")

    response = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    result = response.json()
    assert (result["ok"], result["reached"], result["status"]) == (False, False, "active")
    assert "Backend Error" in result["message"]
    stored = (await client.get(f"/api/v1/integrations/{integration['id']}", headers=user.headers)).json()
    assert stored["status"] == "active"
    assert "Backend Error" in stored["error_message"]
    assert stored["last_tested_at"] is not None


async def test_an_unreachable_service_does_not_block_activation(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    offline = f"http://127.0.0.1:{_closed_port()}"
    integration = await connect(
        client, user, "telegram", {"bot_token": "123456:ABC-DEF"}, {"api_base": offline}
    )

    tested = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    result = tested.json()
    assert (result["ok"], result["reached"], result["status"]) == (False, False, "active")
    assert "could not reach Telegram" in result["message"]
    stored = (await client.get(f"/api/v1/integrations/{integration['id']}", headers=user.headers)).json()
    assert "could not reach Telegram" in stored["error_message"]
    workflow = await create_workflow(client, user, steps=[telegram_step()])
    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"


async def test_refused_credentials_block_activation_until_a_passing_test(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await sign_up(client)
    integration = await connect(
        client, user, "telegram", {"bot_token": fake_telegram.token}, {"api_base": fake_telegram.url}
    )
    url = f"/api/v1/integrations/{integration['id']}"
    workflow = await create_workflow(client, user, steps=[telegram_step()])
    fake_telegram.fail(401, "Unauthorized", path_contains="getMe")

    refused = (await client.post(f"{url}/test", headers=user.headers)).json()

    assert (refused["ok"], refused["reached"], refused["status"]) == (False, True, "error")
    assert "Unauthorized" in refused["message"]  # Telegram's own reason
    blocked = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)
    assert blocked.status_code == 422
    assert "credentials were refused" in blocked.json()["error"]["details"][0]["message"]

    passed = (await client.post(f"{url}/test", headers=user.headers)).json()
    assert (passed["ok"], passed["status"]) == (True, "active")
    stored = (await client.get(url, headers=user.headers)).json()
    assert (stored["status"], stored["error_message"]) == ("active", None)
    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)
    assert activated.status_code == 200, activated.text


async def test_new_credentials_bring_a_refused_integration_back(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await sign_up(client)
    integration = await connect(
        client, user, "telegram", {"bot_token": "123456:WRONG"}, {"api_base": fake_telegram.url}
    )
    url = f"/api/v1/integrations/{integration['id']}"
    assert (await client.post(f"{url}/test", headers=user.headers)).json()["status"] == "error"

    replaced = await client.patch(
        url, json={"credentials": {"bot_token": fake_telegram.token}}, headers=user.headers
    )

    assert (replaced.json()["status"], replaced.json()["error_message"]) == ("active", None)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_token_rotated_during_the_test_is_saved(
    client: httpx.AsyncClient, fake_gmail: FakeGmail, database: Database, app: FastAPI
) -> None:
    user = await sign_up(client)
    integration = await _connect_granted_gmail(client, user, fake_gmail)
    before = await _credentials(database, app, user, integration["id"])
    fake_gmail.rotate_refresh_tokens = True
    fake_gmail.expire_access_tokens()

    response = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    assert response.json()["ok"] is True
    after = await _credentials(database, app, user, integration["id"])
    assert after["refresh_token"] != before["refresh_token"]
    assert after["refresh_token"] in fake_gmail.state.refresh_tokens


async def test_gmail_oauth_flow_connects_the_account(
    client: httpx.AsyncClient, fake_gmail: FakeGmail, database: Database, app: FastAPI
) -> None:
    user = await sign_up(client)
    client_credentials = {
        "client_id": fake_gmail.state.client_id,
        "client_secret": fake_gmail.state.client_secret,
    }
    pending = await connect(client, user, "gmail", client_credentials, _gmail_configuration(fake_gmail))
    assert pending["status"] == "inactive"

    authorize = await client.get("/api/v1/integrations/gmail/oauth/authorize", headers=user.headers)

    assert authorize.status_code == 200, authorize.text
    body = authorize.json()
    assert body["redirect_uri"] == "http://autofy.test/api/v1/integrations/gmail/oauth/callback"
    url = urlsplit(body["authorization_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{fake_gmail.url}/o/oauth2/v2/auth"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["client_id"] == fake_gmail.state.client_id
    assert fake_gmail.state.client_secret not in authorize.text
    code = fake_gmail.issue_code(body["redirect_uri"])

    # Google redirects the browser here: no Authorization header, only code and state.
    callback = await client.get(
        "/api/v1/integrations/gmail/oauth/callback", params={"code": code, "state": query["state"]}
    )

    assert callback.status_code == 200, callback.text
    connected = callback.json()
    assert connected["status"] == "active"
    assert set(connected["credential_fields"]) >= {
        "client_id",
        "client_secret",
        "refresh_token",
        "access_token",
    }
    credentials = await _credentials(database, app, user, pending["id"])
    assert credentials["refresh_token"] in fake_gmail.state.refresh_tokens
    tested = await client.post(f"/api/v1/integrations/{pending['id']}/test", headers=user.headers)
    assert tested.json()["ok"] is True


async def test_gmail_oauth_callback_refuses_bad_states_and_records_refused_codes(
    client: httpx.AsyncClient, fake_gmail: FakeGmail
) -> None:
    user = await sign_up(client)
    client_credentials = {
        "client_id": fake_gmail.state.client_id,
        "client_secret": fake_gmail.state.client_secret,
    }
    pending = await connect(client, user, "gmail", client_credentials, _gmail_configuration(fake_gmail))
    authorize = (await client.get("/api/v1/integrations/gmail/oauth/authorize", headers=user.headers)).json()
    state = parse_qs(urlsplit(authorize["authorization_url"]).query)["state"][0]
    callback = "/api/v1/integrations/gmail/oauth/callback"
    forged = jwt.encode(
        {
            "sub": str(user.user_id),
            "integration_id": pending["id"],
            "aud": "autofy:oauth:gmail",
            "exp": 9999999999,
            "iat": 1,
        },
        "a-different-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {
            "sub": str(user.user_id),
            "integration_id": pending["id"],
            "aud": "autofy:oauth:gmail",
            "exp": 1,
            "iat": 0,
        },
        TEST_JWT_SECRET,
        algorithm="HS256",
    )

    for params in (
        {"code": "x", "state": forged},
        {"code": "x", "state": expired},
        {"code": "x", "state": user.access_token},  # an access token is not a state
        {"code": "x", "state": "garbage"},
    ):
        response = await client.get(callback, params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "oauth_failed"
    assert (await client.get(callback, params={"code": "x"})).status_code == 422
    denied = await client.get(callback, params={"error": "access_denied", "state": state})
    assert denied.status_code == 400
    assert "access_denied" in denied.json()["error"]["message"]

    refused = await client.get(callback, params={"code": "4/not-issued", "state": state})

    assert refused.status_code == 400
    assert "invalid_grant" in refused.json()["error"]["message"]
    recorded = (await client.get(f"/api/v1/integrations/{pending['id']}", headers=user.headers)).json()
    assert recorded["status"] in {"error", "expired"}
    assert "invalid_grant" in recorded["error_message"]


async def test_authorize_needs_a_gmail_integration_first(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.get("/api/v1/integrations/gmail/oauth/authorize", headers=user.headers)

    assert response.status_code == 404
    assert "client_id and client_secret" in response.json()["error"]["message"]
    assert (await client.get("/api/v1/integrations/gmail/oauth/authorize")).status_code == 401
