"""The rules of integrations: one per service per user, credentials checked against what the
connector declares, encrypted before they touch the database, and never shown again.

Credentials are encrypted with the integration's own id and owner as associated data, so the id is
chosen here before the row exists. Users cannot read the credentials column at all; responses
list which fields are set (kept in `metadata.credential_fields`), not their values, and audit rows
name fields, never values.

Status: a new integration is `active` when its credentials are complete, `inactive` while an
OAuth2 grant is still missing (Gmail before its consent screen). A connection test that the service
answers decides the status: `active` when it accepts the credentials, `error` when it refuses them
(or the request itself is wrong), `expired` for a revoked grant. A test that does not get an answer
(network down, timeout, a 5xx or 429) says nothing about the credentials: the status stays as it was
and the failure is recorded in `error_message`. Replacing the credentials resets the status.

Gmail OAuth: the client id and secret are stored first (POST /integrations, never in a URL, where
proxies and browser history would keep them); `authorize` returns Google's consent URL with a
`state` that is a short-lived JWT naming the user and the integration; the callback, which the
browser reaches without the user's access token, trusts that state to know whom it is for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import RowMapping, func
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.connectors import gmail
from autofy.connectors.catalog import UnknownService, catalog
from autofy.connectors.gmail import oauth as gmail_oauth
from autofy.connectors.outbound import OutboundPolicy, outbound_client
from autofy.connectors.runtime import connector_context
from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectionTestResult,
    Connector,
    ConnectorError,
    TransientError,
)
from autofy.errors import ConflictError, DomainError, ErrorDetail, NotFoundError, ValidationFailedError
from autofy.integrations import repository
from autofy.integrations.schemas import (
    Integration,
    IntegrationCreate,
    IntegrationTemplate,
    IntegrationTestResult,
    IntegrationUpdate,
    IntegrationUse,
    OAuthAuthorization,
)
from autofy.security.crypto import CredentialCipher, CredentialDecryptionError
from autofy.workflows import repository as workflows_repository

CONNECTION_TEST_TIMEOUT_SECONDS = 60.0
OAUTH_STATE_TTL = timedelta(minutes=10)
OAUTH_STATE_AUDIENCE = "autofy:oauth:gmail"
GMAIL_CALLBACK_PATH = "/api/v1/integrations/gmail/oauth/callback"


class IntegrationNotFound(NotFoundError):
    def __init__(self, integration_id: uuid.UUID) -> None:
        super().__init__(f"Integration {integration_id} does not exist.")


class GmailNotSetUp(NotFoundError):
    default_message = (
        "There is no Gmail integration yet: create one with your OAuth client_id and client_secret "
        "(POST /api/v1/integrations), then ask for the authorization URL."
    )


class CredentialsUnreadable(ConflictError):
    default_message = (
        "The stored credentials cannot be decrypted (the encryption key changed?); enter them again."
    )


class OAuthFailed(DomainError):
    status_code = 400
    code = "oauth_failed"
    default_message = "Connecting the account failed."


@dataclass(frozen=True)
class OAuthState:
    user_id: uuid.UUID
    integration_id: uuid.UUID


# --- reading ------------------------------------------------------------------------------------


def _integration(row: RowMapping) -> Integration:
    metadata = row["metadata"] or {}
    return Integration.model_validate(
        {
            **{name: row[name] for name in Integration.model_fields if name in row},
            "configuration": row["configuration"] or {},
            "credential_fields": list(metadata.get("credential_fields", [])),
            "account": metadata.get("account"),
        }
    )


async def _load(session: AsyncSession, integration_id: uuid.UUID) -> RowMapping:
    row = await repository.get_integration(session, integration_id)
    if row is None:
        raise IntegrationNotFound(integration_id)
    return row


async def list_integrations(session: AsyncSession) -> list[Integration]:
    return [_integration(row) for row in await repository.list_integrations(session)]


async def get_integration(session: AsyncSession, integration_id: uuid.UUID) -> Integration:
    return _integration(await _load(session, integration_id))


async def workflows_using(session: AsyncSession, integration_id: uuid.UUID) -> list[IntegrationUse]:
    """The caller's workflows that use the integration (and would fail without it), by name."""
    current = await _load(session, integration_id)
    rows = await workflows_repository.workflows_using(session, current["service_name"], integration_id)
    return [IntegrationUse(workflow_id=row["id"], name=row["name"], status=row["status"]) for row in rows]


async def list_templates(session: AsyncSession) -> list[IntegrationTemplate]:
    return [
        IntegrationTemplate.model_validate({**row, "required_scopes": list(row["required_scopes"] or [])})
        for row in await repository.list_templates(session)
    ]


# --- credentials --------------------------------------------------------------------------------


def _connector(service_name: str) -> Connector:
    try:
        return catalog().connector(service_name)
    except UnknownService as error:
        message = f"{service_name} cannot be connected in this Autofy: {error.message}"
        raise ValidationFailedError(
            message, details=[{"field": "service_name", "message": message}]
        ) from None


def _check_credentials(connector: Connector, credentials: Mapping[str, str]) -> dict[str, str]:
    """The credentials, trimmed, when they fit the fields the connector declares; 422 otherwise.

    Messages name fields, never values.
    """
    declared = {field.name: field for field in connector.auth.fields}
    problems: list[ErrorDetail] = []
    for name in sorted(set(credentials) - set(declared)):
        expected = ", ".join(declared) or "none"
        problems.append(
            {
                "field": f"credentials.{name}",
                "message": f"not a credential of {connector.service_name} ({expected})",
            }
        )
    cleaned = {
        name: value.strip() for name, value in credentials.items() if name in declared and value.strip()
    }
    for name, field in declared.items():
        if field.required and name not in cleaned:
            problems.append({"field": f"credentials.{name}", "message": f"required: {field.label}"})
    if not problems:
        problems = [
            {"field": f"credentials.{name}", "message": message}
            for name, message in connector.credential_problems(cleaned)
        ]
    if problems:
        raise ValidationFailedError(f"The credentials do not fit {connector.display_name}.", details=problems)
    return cleaned


def _initial_status(connector: Connector, credentials: Mapping[str, Any]) -> str:
    # An OAuth2 connection is only usable once the consent screen has given a refresh token.
    if connector.auth.kind == "oauth2" and not credentials.get("refresh_token"):
        return "inactive"
    return "active"


def _credential_metadata(
    previous: Mapping[str, Any] | None, credentials: Mapping[str, Any]
) -> dict[str, Any]:
    kept = {
        key: value for key, value in (previous or {}).items() if key not in {"credential_fields", "account"}
    }
    return {**kept, "credential_fields": sorted(credentials)}


# --- changing -----------------------------------------------------------------------------------


async def create_integration(
    session: AsyncSession,
    cipher: CredentialCipher,
    user_id: uuid.UUID,
    body: IntegrationCreate,
    *,
    meta: RequestInfo | None = None,
) -> Integration:
    connector = _connector(body.service_name)
    credentials = _check_credentials(connector, body.credentials)
    # The ciphertext is bound to the row's id, so the id exists before the row does.
    integration_id = uuid.uuid4()
    try:
        row = await repository.insert_integration(
            session,
            {
                "id": integration_id,
                "user_id": user_id,
                "service_name": body.service_name,
                "display_name": body.display_name or connector.display_name,
                "credentials": cipher.encrypt(credentials, user_id=user_id, integration_id=integration_id),
                "configuration": body.configuration.stored(),
                "status": _initial_status(connector, credentials),
                "metadata": _credential_metadata(None, credentials),
            },
        )
    except repository.DuplicateService:
        raise ConflictError(
            f"You already have a {body.service_name} integration; update it "
            f"(PATCH /api/v1/integrations/{{id}}) or delete it first.",
            details=[{"field": "service_name", "message": "one integration per service"}],
        ) from None
    await audit.record(
        session,
        user_id=user_id,
        action="integration.create",
        resource_type="integration",
        resource_id=integration_id,
        details={"service_name": body.service_name, "fields": sorted(credentials), "status": row["status"]},
        meta=meta,
    )
    return _integration(row)


async def update_integration(
    session: AsyncSession,
    cipher: CredentialCipher,
    user_id: uuid.UUID,
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    *,
    meta: RequestInfo | None = None,
) -> Integration:
    current = await _load(session, integration_id)
    values: dict[str, Any] = {}
    changed = sorted(body.model_fields_set)
    if body.display_name is not None:
        values["display_name"] = body.display_name
    if body.configuration is not None:
        values["configuration"] = body.configuration.stored()
    if body.credentials is not None:
        connector = _connector(current["service_name"])
        credentials = _check_credentials(connector, body.credentials)
        values |= {
            "credentials": cipher.encrypt(credentials, user_id=user_id, integration_id=integration_id),
            "status": _initial_status(connector, credentials),
            "error_message": None,
            "metadata": _credential_metadata(current["metadata"], credentials),
        }
    row = await repository.update_integration(session, integration_id, values) if values else current
    await audit.record(
        session,
        user_id=user_id,
        action="integration.update",
        resource_type="integration",
        resource_id=integration_id,
        details={"service_name": current["service_name"], "fields": changed},
        meta=meta,
    )
    return _integration(row)


async def delete_integration(
    session: AsyncSession, user_id: uuid.UUID, integration_id: uuid.UUID, *, meta: RequestInfo | None = None
) -> None:
    current = await _load(session, integration_id)
    await repository.delete_integration(session, integration_id)
    await audit.record(
        session,
        user_id=user_id,
        action="integration.delete",
        resource_type="integration",
        resource_id=integration_id,
        details={"service_name": current["service_name"]},
        meta=meta,
    )


async def decrypted_credentials(
    session: AsyncSession, cipher: CredentialCipher, *, user_id: uuid.UUID, integration_id: uuid.UUID
) -> dict[str, Any]:
    """The credentials of an integration the caller has already loaded (so RLS showed it is theirs),
    decrypted for the server's use only: never returned to the user, logged or sent to a model.

    The ciphertext is read as the service role (users cannot select the column); decryption is bound
    to the owner and the row. Raises `CredentialsUnreadable` when they no longer decrypt (the key
    changed, or the ciphertext was copied from another row).
    """
    stored = await repository.read_credentials(session, integration_id)
    try:
        return cipher.decrypt(stored, user_id=user_id, integration_id=integration_id)
    except CredentialDecryptionError:
        raise CredentialsUnreadable() from None


async def _save_credentials(
    session: AsyncSession,
    cipher: CredentialCipher,
    user_id: uuid.UUID,
    integration_id: uuid.UUID,
    credentials: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
    **values: Any,
) -> RowMapping:
    return await repository.update_integration(
        session,
        integration_id,
        {
            "credentials": cipher.encrypt(dict(credentials), user_id=user_id, integration_id=integration_id),
            "metadata": _credential_metadata(metadata, credentials),
            **values,
        },
    )


# --- connection test ----------------------------------------------------------------------------


async def run_connection_test(
    session: AsyncSession,
    cipher: CredentialCipher,
    policy: OutboundPolicy,
    user_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    meta: RequestInfo | None = None,
) -> IntegrationTestResult:
    """Run the connector's identity call with the stored credentials and record the outcome."""
    current = await _load(session, integration_id)
    connector = _connector(current["service_name"])
    outcome = await _run_test(session, cipher, policy, user_id, current, connector)
    metadata = dict(current["metadata"] or {})
    if outcome.account:
        metadata["account"] = outcome.account
    row = await repository.update_integration(
        session,
        integration_id,
        {
            "status": outcome.status or current["status"],
            "last_tested_at": func.now(),
            "error_message": None if outcome.ok else outcome.message,
            "metadata": metadata,
        },
    )
    await audit.record(
        session,
        user_id=user_id,
        action="integration.test",
        resource_type="integration",
        resource_id=integration_id,
        details={
            "service_name": current["service_name"],
            "ok": outcome.ok,
            "reached": outcome.reached,
            "status": row["status"],
        },
        meta=meta,
    )
    return IntegrationTestResult(
        ok=outcome.ok,
        reached=outcome.reached,
        status=row["status"],
        message=outcome.message,
        account=outcome.account,
        tested_at=row["last_tested_at"],
    )


@dataclass(frozen=True)
class _TestOutcome:
    ok: bool
    status: str | None  # None: the credentials were not checked, so the status stays as it was
    message: str
    account: str | None = None
    reached: bool = True  # the service answered


async def _run_test(
    session: AsyncSession,
    cipher: CredentialCipher,
    policy: OutboundPolicy,
    user_id: uuid.UUID,
    current: RowMapping,
    connector: Connector,
) -> _TestOutcome:
    integration_id: uuid.UUID = current["id"]
    try:
        credentials = await decrypted_credentials(
            session, cipher, user_id=user_id, integration_id=integration_id
        )
    except CredentialsUnreadable as error:
        return _TestOutcome(False, "error", error.message, reached=False)

    async def save_rotated(renewed: dict[str, Any]) -> None:
        # A refresh token the provider rotated during the test must not be lost.
        await _save_credentials(session, cipher, user_id, integration_id, renewed, current["metadata"])

    try:
        async with (
            asyncio.timeout(CONNECTION_TEST_TIMEOUT_SECONDS),
            connector_context(
                connector,
                credentials=credentials,
                configuration=current["configuration"] or {},
                policy=policy,
                save_credentials=save_rotated,
            ) as ctx,
        ):
            result: ConnectionTestResult = await connector.test(ctx)
    except AuthenticationError as error:
        return _TestOutcome(False, "expired" if error.expired else "error", error.message)
    except TransientError as error:
        # Unreachable, overloaded or failing: the credentials were not checked, so they keep
        # their status (an offline laptop must not break every workflow that uses them).
        return _TestOutcome(False, None, error.message, reached=False)
    except ConnectorError as error:
        return _TestOutcome(False, "error", error.message)
    except TimeoutError:
        message = f"{connector.display_name} did not answer within {CONNECTION_TEST_TIMEOUT_SECONDS:g} s."
        return _TestOutcome(False, None, message, reached=False)
    return _TestOutcome(result.ok, "active" if result.ok else "error", result.message, result.account)


# --- Gmail OAuth --------------------------------------------------------------------------------


def gmail_redirect_uri(public_url: str) -> str:
    return public_url.rstrip("/") + GMAIL_CALLBACK_PATH


def _sign_state(secret: str, state: OAuthState) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(state.user_id),
        "integration_id": str(state.integration_id),
        "aud": OAUTH_STATE_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + OAUTH_STATE_TTL).timestamp()),
        "nonce": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_state(secret: str, token: str) -> OAuthState:
    """The user and integration a state names; 400 when it is expired, forged or not a state at all.

    Its own audience keeps an access token from passing as a state, and a state from passing as an
    access token.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=OAUTH_STATE_AUDIENCE,
            options={"require": ["sub", "integration_id", "aud", "exp", "iat"]},
        )
        return OAuthState(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["integration_id"])))
    except (jwt.PyJWTError, ValueError):
        raise OAuthFailed(
            "The authorization link is invalid or expired; start connecting Gmail again.",
            details=[{"field": "query.state", "message": "invalid or expired"}],
        ) from None


async def gmail_authorization(
    session: AsyncSession, cipher: CredentialCipher, *, user_id: uuid.UUID, secret: str, public_url: str
) -> OAuthAuthorization:
    """Google's consent URL for the caller's Gmail integration (created beforehand with its client)."""
    current = await repository.get_by_service(session, "gmail")
    if current is None:
        raise GmailNotSetUp()
    credentials = await decrypted_credentials(session, cipher, user_id=user_id, integration_id=current["id"])
    state = _sign_state(secret, OAuthState(user_id, current["id"]))
    configuration = current["configuration"] or {}
    redirect_uri = gmail_redirect_uri(public_url)
    url = gmail.authorization_url(
        str(credentials["client_id"]),
        redirect_uri,
        state,
        authorize_url=str(configuration.get("authorize_url") or gmail_oauth.AUTHORIZE_URL),
    )
    return OAuthAuthorization(
        authorization_url=url, redirect_uri=redirect_uri, expires_in=int(OAUTH_STATE_TTL.total_seconds())
    )


@dataclass(frozen=True)
class OAuthOutcome:
    integration: Integration
    failure: str | None = None


async def complete_gmail_oauth(
    session: AsyncSession,
    cipher: CredentialCipher,
    policy: OutboundPolicy,
    state: OAuthState,
    *,
    code: str,
    public_url: str,
    meta: RequestInfo | None = None,
) -> OAuthOutcome:
    """Trade the code for tokens and store them; a refused exchange is recorded on the integration.

    Runs as the user the state names. The failure is returned rather than raised so the caller can
    commit the recorded error before answering.
    """
    current = await _load(session, state.integration_id)
    if current["service_name"] != "gmail":
        raise IntegrationNotFound(state.integration_id)
    credentials = await decrypted_credentials(
        session, cipher, user_id=state.user_id, integration_id=state.integration_id
    )
    token_url = (current["configuration"] or {}).get("token_url")
    try:
        async with outbound_client(policy) as http:
            tokens = await gmail.exchange_code(
                http,
                str(token_url or gmail_oauth.TOKEN_URL),
                str(credentials.get("client_id", "")),
                str(credentials.get("client_secret", "")),
                code,
                gmail_redirect_uri(public_url),
            )
    except ConnectorError as error:
        values: dict[str, Any] = {"error_message": error.message}
        if not isinstance(error, TransientError):  # no answer says nothing about the grant
            values["status"] = (
                "expired" if isinstance(error, AuthenticationError) and error.expired else "error"
            )
        row = await repository.update_integration(session, state.integration_id, values)
        await _audit_connect(session, state, ok=False, meta=meta)
        return OAuthOutcome(_integration(row), failure=error.message)
    row = await _save_credentials(
        session,
        cipher,
        state.user_id,
        state.integration_id,
        {**credentials, **tokens},
        current["metadata"],
        status="active",
        error_message=None,
    )
    await _audit_connect(session, state, ok=True, meta=meta)
    return OAuthOutcome(_integration(row))


async def _audit_connect(
    session: AsyncSession, state: OAuthState, *, ok: bool, meta: RequestInfo | None
) -> None:
    await audit.record(
        session,
        user_id=state.user_id,
        action="integration.oauth_connect",
        resource_type="integration",
        resource_id=state.integration_id,
        details={"service_name": "gmail", "ok": ok},
        meta=meta,
    )
