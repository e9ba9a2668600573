"""API keys: create (the full key is shown once), list, revoke."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import APIRouter, Response

from autofy.api_keys import service
from autofy.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyInfo
from autofy.auth.dependencies import AdminPrincipal, AppSettings, ReadPrincipal, RequestMeta, UserSession
from autofy.errors import error_responses
from autofy.security.api_keys import ApiKeyHasher

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=error_responses(409),
    summary="Create an API key (needs a signed-in user or an admin key)",
    description="The response holds the full key; it is never shown again.",
)
async def create_api_key(
    body: ApiKeyCreate,
    principal: AdminPrincipal,
    session: UserSession,
    settings: AppSettings,
    meta: RequestMeta,
) -> ApiKeyCreated:
    hasher = ApiKeyHasher.from_settings(settings)
    return await service.create(session, principal, body, hasher=hasher, meta=meta)


@router.get("", response_model=list[ApiKeyInfo], summary="List your API keys (never their values)")
async def list_api_keys(_: ReadPrincipal, session: UserSession) -> Sequence[ApiKeyInfo]:
    return await service.list_keys(session)


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
    summary="Revoke an API key (needs a signed-in user or an admin key)",
)
async def revoke_api_key(
    key_id: uuid.UUID, principal: AdminPrincipal, session: UserSession, meta: RequestMeta
) -> None:
    await service.revoke(session, principal, key_id, meta=meta)
