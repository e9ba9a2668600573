"""HTTP routes of integrations, integration templates and the Gmail OAuth flow."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from autofy.auth.dependencies import Principal, RequestMeta, UserSession, require
from autofy.config import Settings
from autofy.connectors.outbound import OutboundPolicy
from autofy.db.engine import Database, user_claims
from autofy.dependencies import get_app_settings, get_database
from autofy.errors import error_responses
from autofy.integrations import service
from autofy.integrations.schemas import (
    Integration,
    IntegrationCreate,
    IntegrationTemplate,
    IntegrationTestResult,
    IntegrationUpdate,
    IntegrationUse,
    OAuthAuthorization,
)
from autofy.security.crypto import CredentialCipher

router = APIRouter(prefix="/api/v1", tags=["integrations"])

Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


def get_cipher(settings: AppSettings) -> CredentialCipher:
    return CredentialCipher.from_settings(settings)


def get_outbound_policy(settings: AppSettings) -> OutboundPolicy:
    return OutboundPolicy(allow_private_network=settings.outbound_allow_private_network)


Cipher = Annotated[CredentialCipher, Depends(get_cipher)]
Policy = Annotated[OutboundPolicy, Depends(get_outbound_policy)]


def _jwt_secret(settings: Settings) -> str:
    if settings.jwt_secret is None:  # the app does not start without one; this keeps mypy honest
        raise RuntimeError("AUTOFY_JWT_SECRET is not set")
    return settings.jwt_secret.get_secret_value()


@router.get("/integration-templates", response_model=list[IntegrationTemplate])
async def list_integration_templates(principal: Reader, session: UserSession) -> list[IntegrationTemplate]:
    """How each service connects: credential fields, scopes and a setup guide."""
    return await service.list_templates(session)


@router.post(
    "/integrations",
    status_code=status.HTTP_201_CREATED,
    response_model=Integration,
    responses=error_responses(409, 422),
)
async def create_integration(
    body: IntegrationCreate, principal: Writer, session: UserSession, cipher: Cipher, meta: RequestMeta
) -> Integration:
    """Connect a service (one integration per service). Credentials are encrypted, never returned."""
    return await service.create_integration(session, cipher, principal.user_id, body, meta=meta)


@router.get("/integrations", response_model=list[Integration])
async def list_integrations(principal: Reader, session: UserSession) -> list[Integration]:
    return await service.list_integrations(session)


@router.get(
    "/integrations/gmail/oauth/authorize",
    response_model=OAuthAuthorization,
    responses=error_responses(404, 409),
)
async def gmail_oauth_authorize(
    principal: Writer, session: UserSession, cipher: Cipher, settings: AppSettings
) -> OAuthAuthorization:
    """Google's consent URL for your Gmail integration (create it first with your OAuth client)."""
    return await service.gmail_authorization(
        session,
        cipher,
        user_id=principal.user_id,
        secret=_jwt_secret(settings),
        public_url=settings.external_url,
    )


@router.get(
    "/integrations/gmail/oauth/callback",
    response_model=Integration,
    responses=error_responses(400, 404, 409),
)
async def gmail_oauth_callback(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    settings: AppSettings,
    cipher: Cipher,
    policy: Policy,
    meta: RequestMeta,
    state: Annotated[str, Query(max_length=4000)],
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Integration | Response:
    """Where Google sends the browser back. The signed `state` names the user, so no token is needed.

    A browser's page request (`Accept: text/html`) is sent on to the integrations page with the
    result (`?gmail=connected|failed|denied|invalid`); other clients get the integration as JSON.
    """
    to_page = "text/html" in request.headers.get("accept", "")
    try:
        oauth_state = service.read_state(_jwt_secret(settings), state)
    except service.OAuthFailed:
        if to_page:
            return _integrations_page("invalid")
        raise
    if error is not None or not code:
        if to_page:
            return _integrations_page("denied", oauth_state.integration_id)
        raise service.OAuthFailed(f"Google did not grant access ({error or 'no code'}); connect Gmail again.")
    # This route is the edge: the block commits, so a refused exchange stays recorded.
    async with database.user_session(user_claims(oauth_state.user_id)) as session:
        outcome = await service.complete_gmail_oauth(
            session, cipher, policy, oauth_state, code=code, public_url=settings.external_url, meta=meta
        )
    if to_page:
        return _integrations_page("failed" if outcome.failure else "connected", oauth_state.integration_id)
    if outcome.failure is not None:
        raise service.OAuthFailed(f"Connecting Gmail failed: {outcome.failure}")
    return outcome.integration


def _integrations_page(result: str, integration_id: uuid.UUID | None = None) -> Response:
    anchor = f"#integration-{integration_id}" if integration_id else ""
    return RedirectResponse(f"/integrations?gmail={result}{anchor}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/integrations/{integration_id}", response_model=Integration, responses=error_responses(404))
async def get_integration(integration_id: uuid.UUID, principal: Reader, session: UserSession) -> Integration:
    return await service.get_integration(session, integration_id)


@router.get(
    "/integrations/{integration_id}/workflows",
    response_model=list[IntegrationUse],
    responses=error_responses(404),
)
async def list_integration_workflows(
    integration_id: uuid.UUID, principal: Reader, session: UserSession
) -> list[IntegrationUse]:
    """The workflows whose steps use this integration: they cannot run once it is deleted."""
    return await service.workflows_using(session, integration_id)


@router.patch("/integrations/{integration_id}", response_model=Integration, responses=error_responses(404))
async def update_integration(
    integration_id: uuid.UUID,
    body: IntegrationUpdate,
    principal: Writer,
    session: UserSession,
    cipher: Cipher,
    meta: RequestMeta,
) -> Integration:
    """Rename it, or replace its credentials or configuration (each replaced as a whole)."""
    return await service.update_integration(
        session, cipher, principal.user_id, integration_id, body, meta=meta
    )


@router.delete(
    "/integrations/{integration_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_integration(
    integration_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta
) -> Response:
    await service.delete_integration(session, principal.user_id, integration_id, meta=meta)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/integrations/{integration_id}/test",
    response_model=IntegrationTestResult,
    responses=error_responses(404),
)
async def test_integration(
    integration_id: uuid.UUID,
    principal: Writer,
    session: UserSession,
    cipher: Cipher,
    policy: Policy,
    meta: RequestMeta,
) -> IntegrationTestResult:
    """Call the service with the stored credentials; records status, last_tested_at, error_message.

    A failing test is an answer (200, `ok: false`), not an error of this request.
    """
    return await service.run_connection_test(
        session, cipher, policy, principal.user_id, integration_id, meta=meta
    )
