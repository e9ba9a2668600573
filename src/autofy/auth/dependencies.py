"""Who is calling, what they may do, and the transaction a request runs in.

- `CurrentPrincipal`: the caller, from `Authorization: Bearer <JWT or API key>` or `X-API-Key`.
  Anything wrong with the credential is a 401 with `WWW-Authenticate`; a malformed API key (bad
  shape or checksum) is refused before any database query.
- `require("write")`: the caller, or 403 when the credential lacks the permission.
- `UserSession`: a transaction *as the caller* (role `authenticated`, their claims, RLS on),
  committed before the response is sent (see `_transaction`).
- `ServiceSession`: a transaction as `service_role`, for the few routes that act before a user is
  known (sign-up, sign-in, refresh) or on tables users cannot reach (sessions).
- `RequestMeta`: the caller's IP address and user agent, for audit rows.
"""

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit.schemas import RequestInfo
from autofy.auth import service
from autofy.auth.schemas import Permission, Principal
from autofy.config import Settings
from autofy.db.engine import Database
from autofy.dependencies import get_app_settings, get_database
from autofy.errors import DomainError, ForbiddenError, UnauthorizedError
from autofy.security.api_keys import looks_like_api_key, parse_api_key

__all__ = [
    "AdminPrincipal",
    "AppSettings",
    "CurrentPrincipal",
    "ExecutePrincipal",
    "Principal",
    "ReadPrincipal",
    "RequestMeta",
    "ServiceSession",
    "UserSession",
    "WritePrincipal",
    "get_principal",
    "get_request_meta",
    "require",
    "user_transaction",
]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerAuth",
    bearerFormat="JWT",
    description="An access token from `POST /api/v1/auth/signin` (or an API key as the bearer token).",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyAuth",
    description="An API key from `POST /api/v1/api-keys` (`afy_…`).",
)

_MAX_USER_AGENT = 512
_MISSING_CREDENTIALS = "Send an access token (`Authorization: Bearer …`) or an API key (`X-API-Key`)."


async def get_principal(
    database: Annotated[Database, Depends(get_database)],
    settings: Annotated[Settings, Depends(get_app_settings)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key_header: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    credential = api_key_header or (bearer.credentials if bearer is not None else None)
    if not credential:
        raise UnauthorizedError(_MISSING_CREDENTIALS)
    if looks_like_api_key(credential) or api_key_header is not None:
        api_key = parse_api_key(credential)
        if api_key is None:
            raise UnauthorizedError("The API key is malformed.")
        # Service role: the key's owner is what this lookup finds out, so no user's RLS applies
        # yet, and usage counters are not writable by users. Committed on its own, so a key's
        # use is recorded even when the request itself then fails.
        async with database.service_session() as session:
            return await service.principal_from_api_key(session, api_key, settings=settings)
    # The session check reads auth.sessions, which only the service role may read.
    async with database.service_session() as session:
        return await service.principal_from_access_token(session, credential, settings=settings)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the caller when their credential grants `permission`, 403 otherwise."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise ForbiddenError(f"This API key lacks the `{permission}` permission.")
        return principal

    return check


# The common cases, ready to annotate a parameter with.
ReadPrincipal = Annotated[Principal, Depends(require("read"))]
WritePrincipal = Annotated[Principal, Depends(require("write"))]
ExecutePrincipal = Annotated[Principal, Depends(require("execute"))]
AdminPrincipal = Annotated[Principal, Depends(require("admin"))]


@asynccontextmanager
async def _edge_transaction(
    transaction: AbstractAsyncContextManager[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Commit when the route returns, roll back when it raises, except for errors whose writes
    must stand (`DomainError.keeps_changes`): those are committed, then answered."""
    async with transaction as session:
        try:
            yield session
        except DomainError as error:
            if error.keeps_changes:
                await session.commit()
            raise


def user_transaction(
    principal_dependency: Callable[..., Awaitable[Principal]],
) -> Callable[..., AsyncIterator[AsyncSession]]:
    """A dependency: a transaction as the principal `principal_dependency` finds (the API's bearer
    credential, or the web app's session cookie), committed at the edge like every route's."""

    # Real annotations (this module has no `from __future__ import annotations`): FastAPI must see
    # `principal_dependency`, a local name a string annotation could not be resolved against.
    async def transaction(
        principal: Annotated[Principal, Depends(principal_dependency)],
        database: Annotated[Database, Depends(get_database)],
    ) -> AsyncIterator[AsyncSession]:
        async with _edge_transaction(database.user_session(principal.claims)) as session:
            yield session

    return transaction


async def _service_transaction(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    async with _edge_transaction(database.service_session()) as session:
        yield session


# scope="function": FastAPI (>= 0.118) runs the exit code of a yield dependency after the response
# is sent by default; then a client could get 200 for a change whose commit later fails, or send its
# next request before the commit lands. With the function scope the commit runs when the route
# returns, before a byte of the response goes out (tests/auth/test_transactions.py proves it).
UserSession = Annotated[AsyncSession, Depends(user_transaction(get_principal), scope="function")]
ServiceSession = Annotated[AsyncSession, Depends(_service_transaction, scope="function")]


def get_request_meta(request: Request) -> RequestInfo:
    host = request.client.host if request.client else None
    try:
        ip_address = str(ipaddress.ip_address(host)) if host else None
    except ValueError:  # a test client's or a unix socket's made-up peer name
        ip_address = None
    user_agent = request.headers.get("user-agent")
    return RequestInfo(ip_address=ip_address, user_agent=user_agent[:_MAX_USER_AGENT] if user_agent else None)


RequestMeta = Annotated[RequestInfo, Depends(get_request_meta)]
