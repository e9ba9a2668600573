"""Google OAuth2 for Gmail: the consent URL, the code exchange and access-token refresh.

Access tokens live about an hour; the refresh token is what keeps an integration alive. Google may
return a new refresh token on refresh (rotation): it is saved before anything else happens, because
a lost refresh token means the user has to reconnect.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ValidationError

from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
    json_body,
    send,
)

AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.modify",
)
# Refresh this long before the access token expires, so it never expires in the middle of a call.
REFRESH_MARGIN_SECONDS = 60
_PROVIDER = "Google"


class _TokenResponse(BaseModel):
    access_token: str
    expires_in: int = 3600
    refresh_token: str | None = None


def authorization_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = SCOPES,
    *,
    authorize_url: str = AUTHORIZE_URL,
) -> str:
    """Where to send the user to grant Autofy access to their mailbox.

    `access_type=offline` asks for a refresh token and `prompt=consent` makes Google issue one even
    when the user granted access before (otherwise a reconnect comes back without one).
    """
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes),
            "state": state,
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
    )
    return f"{authorize_url}?{query}"


async def exchange_code(
    http: httpx.AsyncClient,
    token_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """Trade the authorization code from the redirect for the integration's credentials."""
    tokens = await _token_request(
        http,
        token_url,
        "Google refused the authorization code; start connecting Gmail again",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )
    if not tokens.refresh_token:
        raise AuthenticationError(
            "Google did not issue a refresh token; remove Autofy's access in your Google account "
            "permissions and connect Gmail again"
        )
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": tokens.refresh_token,
        "access_token": tokens.access_token,
        "expires_at": _expires_at(tokens),
    }


def token_url(ctx: ConnectorContext) -> str:
    """The token endpoint: Google's, unless the integration configures another (tests, proxies)."""
    configured = ctx.configuration.get("token_url")
    return str(configured) if configured else TOKEN_URL


def access_token_is_fresh(credentials: Mapping[str, Any]) -> bool:
    try:
        expires_at = float(credentials.get("expires_at") or 0)
    except (TypeError, ValueError):
        return False
    return bool(credentials.get("access_token")) and expires_at - REFRESH_MARGIN_SECONDS > time.time()


async def refresh_credentials(ctx: ConnectorContext) -> dict[str, Any]:
    """Get a new access token and persist the new credentials before returning them.

    When Google rotates the refresh token the old one stops working, so the new credentials are
    saved through `ctx.save_credentials` before the caller uses the token, and `ctx.credentials` is
    replaced so later calls in the same run use them too.
    """
    credentials = ctx.credentials
    missing = [key for key in ("client_id", "client_secret", "refresh_token") if not credentials.get(key)]
    if missing:
        raise AuthenticationError(
            f"Gmail is not fully connected (missing {', '.join(missing)}); connect Gmail again",
            expired=True,
        )
    tokens = await _token_request(
        ctx.http,
        token_url(ctx),
        "Google revoked access; reconnect Gmail",
        {
            "grant_type": "refresh_token",
            "refresh_token": str(credentials["refresh_token"]),
            "client_id": str(credentials["client_id"]),
            "client_secret": str(credentials["client_secret"]),
        },
    )
    renewed = {
        **credentials,
        "access_token": tokens.access_token,
        "expires_at": _expires_at(tokens),
        "refresh_token": tokens.refresh_token or credentials["refresh_token"],
    }
    await ctx.save_credentials(renewed)
    ctx.credentials = renewed
    return renewed


async def _token_request(
    http: httpx.AsyncClient, url: str, invalid_grant_message: str, form: dict[str, str]
) -> _TokenResponse:
    """POST to the token endpoint; `invalid_grant` (a revoked, expired or used grant) means the
    user must connect again, so it is an expired-credentials error with `invalid_grant_message`."""
    # `send` only needs the HTTP client; the token endpoint is not tied to stored credentials.
    ctx = ConnectorContext(service_name="gmail", credentials={}, configuration={}, http=http)
    request = http.build_request("POST", url, data=form, headers={"Accept": "application/json"})
    try:
        response = await send(ctx, request, provider=_PROVIDER, error_message=_token_error)
    except PermanentError as error:
        if "invalid_grant" in error.message:
            raise AuthenticationError(
                f"{invalid_grant_message} ({error.message})", status_code=error.status_code, expired=True
            ) from None
        raise
    try:
        return _TokenResponse.model_validate(json_body(response, provider=_PROVIDER))
    except ValidationError:
        raise TransientError("Google answered the token request with an unexpected body") from None


def _token_error(response: httpx.Response) -> str | None:
    body = response.json()
    error = body["error"]
    if isinstance(error, dict):  # some Google endpoints answer with the API error shape
        return str(error["message"])
    description = body.get("error_description")
    return f"{error} ({description})" if description else str(error)


def _expires_at(tokens: _TokenResponse) -> int:
    return int(time.time()) + tokens.expires_in
