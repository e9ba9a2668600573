"""API keys: created with their full value shown once, listed without it, revoked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.api_keys import repository
from autofy.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyInfo
from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.auth.schemas import Principal
from autofy.errors import ConflictError, NotFoundError
from autofy.security.api_keys import ApiKeyHasher, generate_api_key


async def create(
    session: AsyncSession,
    principal: Principal,
    request: ApiKeyCreate,
    *,
    hasher: ApiKeyHasher,
    meta: RequestInfo,
) -> ApiKeyCreated:
    key = generate_api_key()
    row = await repository.insert_key(
        session,
        user_id=principal.user_id,
        name=request.name,
        prefix=key.prefix,
        key_hash=hasher.hash(key),
        permissions=list(request.permissions),
        expires_at=request.expires_at,
    )
    if row is None:
        raise ConflictError(
            "You already have an API key with this name.",
            details=[{"field": "name", "message": "Choose a name none of your keys has."}],
        )
    await audit.record(
        session,
        user_id=principal.user_id,
        action="api_key.create",
        resource_type="api_key",
        resource_id=row.id,
        details={
            "name": request.name,
            "key_prefix": key.prefix,
            "permissions": list(request.permissions),
            "expires_at": request.expires_at.isoformat() if request.expires_at else None,
        },
        meta=meta,
    )
    return ApiKeyCreated(**ApiKeyInfo.model_validate(row).model_dump(), key=key.full)


async def list_keys(session: AsyncSession) -> Sequence[ApiKeyInfo]:
    return [ApiKeyInfo.model_validate(row) for row in await repository.list_keys(session)]


async def revoke(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, *, meta: RequestInfo
) -> None:
    """Revoking twice is not an error; a key that is not the caller's is indistinguishable from
    one that does not exist."""
    name = await repository.deactivate(session, key_id)
    if name is None:
        raise NotFoundError("The API key does not exist.")
    await audit.record(
        session,
        user_id=principal.user_id,
        action="api_key.revoke",
        resource_type="api_key",
        resource_id=key_id,
        meta=meta,
        details={"name": name}
        | ({"revoked_by_api_key": str(principal.api_key_id)} if principal.api_key_id else {}),
    )
