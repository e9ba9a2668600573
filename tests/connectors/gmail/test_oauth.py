from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from autofy.connectors.gmail import authorization_url, connector, exchange_code
from autofy.connectors.gmail.actions.send_email import SendEmail, SendEmailInput
from autofy.connectors.gmail.oauth import SCOPES
from autofy.connectors.sdk import AuthenticationError, ConnectorContext
from tests.fakes.gmail import FakeGmail
from tests.fakes.service_fixtures import CredentialsRecorder

REDIRECT_URI = "https://autofy.example/api/v1/integrations/gmail/oauth/callback"


def test_authorization_url_asks_for_offline_access_with_consent() -> None:
    url = authorization_url("client-1", REDIRECT_URI, "state-xyz", SCOPES)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    assert query["client_id"] == ["client-1"]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["state"] == ["state-xyz"]
    assert query["response_type"] == ["code"]
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["scope"][0].split() == list(SCOPES)


async def test_exchange_code_returns_complete_credentials(
    fake_gmail: FakeGmail, service_http: httpx.AsyncClient
) -> None:
    code = fake_gmail.issue_code(REDIRECT_URI)

    credentials = await exchange_code(
        service_http,
        f"{fake_gmail.url}/token",
        fake_gmail.state.client_id,
        fake_gmail.state.client_secret,
        code,
        REDIRECT_URI,
    )

    assert credentials["refresh_token"] in fake_gmail.state.refresh_tokens
    assert credentials["access_token"] in fake_gmail.state.access_tokens
    assert credentials["client_id"] == fake_gmail.state.client_id
    assert credentials["expires_at"] > time.time() + 3000
    [token_request] = fake_gmail.requests_to("/token")
    assert parse_qs(token_request.body.decode())["grant_type"] == ["authorization_code"]


async def test_exchange_of_a_used_code_is_refused_clearly(
    fake_gmail: FakeGmail, service_http: httpx.AsyncClient
) -> None:
    code = fake_gmail.issue_code(REDIRECT_URI)
    args = (f"{fake_gmail.url}/token", fake_gmail.state.client_id, fake_gmail.state.client_secret)
    await exchange_code(service_http, *args, code, REDIRECT_URI)

    with pytest.raises(AuthenticationError, match="refused the authorization code") as raised:
        await exchange_code(service_http, *args, code, REDIRECT_URI)

    assert fake_gmail.state.client_secret not in raised.value.message


async def test_expiring_access_token_is_refreshed_and_saved_before_use(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext, saved_credentials: CredentialsRecorder
) -> None:
    old = dict(gmail_ctx.credentials)
    gmail_ctx.credentials = {**old, "expires_at": int(time.time()) + 30}  # inside the 60 s margin

    await connector.test(gmail_ctx)

    [saved] = saved_credentials.saved
    assert saved["access_token"] != old["access_token"]
    assert saved["refresh_token"] == old["refresh_token"]
    assert saved["expires_at"] > time.time() + 3000
    assert saved["client_id"] == old["client_id"]
    assert saved["client_secret"] == old["client_secret"]
    profile_request = fake_gmail.requests_to("/profile")[-1]
    assert profile_request.headers["authorization"] == f"Bearer {saved['access_token']}"


async def test_rotated_refresh_token_is_persisted(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext, saved_credentials: CredentialsRecorder
) -> None:
    fake_gmail.rotate_refresh_tokens = True
    old_refresh = gmail_ctx.credentials["refresh_token"]
    gmail_ctx.credentials = {**gmail_ctx.credentials, "expires_at": 0}

    await SendEmail().run(gmail_ctx, SendEmailInput(to="bob@example.com", subject="s", body_text="b"))

    [saved] = saved_credentials.saved
    assert saved == {
        "client_id": fake_gmail.state.client_id,
        "client_secret": fake_gmail.state.client_secret,
        "refresh_token": saved["refresh_token"],
        "access_token": saved["access_token"],
        "expires_at": saved["expires_at"],
    }
    assert saved["refresh_token"] != old_refresh
    assert fake_gmail.state.refresh_tokens == {saved["refresh_token"]}  # the old one no longer works
    assert gmail_ctx.credentials == saved  # later steps of the run use the new token


async def test_action_does_not_proceed_when_rotated_credentials_cannot_be_saved(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    async def failing_save(credentials: dict[str, object]) -> None:
        raise RuntimeError("database unavailable")

    fake_gmail.rotate_refresh_tokens = True
    gmail_ctx.save_credentials = failing_save
    gmail_ctx.credentials = {**gmail_ctx.credentials, "expires_at": 0}

    with pytest.raises(RuntimeError):
        await SendEmail().run(gmail_ctx, SendEmailInput(to="bob@example.com", subject="s", body_text="b"))

    assert fake_gmail.sent == []


async def test_revoked_grant_marks_the_integration_expired(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    fake_gmail.revoke()

    with pytest.raises(AuthenticationError) as raised:
        await connector.test(gmail_ctx)

    assert raised.value.expired is True
    assert "Google revoked access; reconnect Gmail" in raised.value.message
    assert gmail_ctx.credentials["refresh_token"] not in raised.value.message


async def test_access_token_rejected_early_is_refreshed_once(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext, saved_credentials: CredentialsRecorder
) -> None:
    fake_gmail.expire_access_tokens()  # Google can invalidate a token before its stated expiry

    result = await connector.test(gmail_ctx)

    assert result.ok
    assert result.account == fake_gmail.state.email_address
    assert len(saved_credentials.saved) == 1
    assert len(fake_gmail.requests_to("/profile")) == 2


async def test_credentials_without_refresh_token_ask_to_reconnect(gmail_ctx: ConnectorContext) -> None:
    gmail_ctx.credentials = {**gmail_ctx.credentials, "refresh_token": "", "expires_at": 0}

    with pytest.raises(AuthenticationError, match="connect Gmail again") as raised:
        await connector.test(gmail_ctx)

    assert raised.value.expired is True
