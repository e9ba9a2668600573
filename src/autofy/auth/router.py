"""Accounts: sign up, sign in, refresh, sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Response

from autofy.auth import service
from autofy.auth.dependencies import (
    AppSettings,
    CurrentPrincipal,
    RequestMeta,
    ServiceSession,
)
from autofy.auth.schemas import (
    CurrentUser,
    PasswordChange,
    RefreshRequest,
    SessionInfo,
    SignInRequest,
    SignUpRequest,
    TokenResponse,
)
from autofy.errors import error_responses

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/signup",
    status_code=201,
    response_model=TokenResponse,
    responses=error_responses(409),
    summary="Create an account and sign in",
)
async def sign_up(
    body: SignUpRequest, session: ServiceSession, settings: AppSettings, meta: RequestMeta
) -> TokenResponse:
    # Service role: there is no user to act as until the account exists.
    return await service.sign_up(session, body, settings=settings, meta=meta)


@router.post(
    "/signin",
    response_model=TokenResponse,
    responses=error_responses(401, 429),
    summary="Sign in with email and password",
    description="Failed attempts are audited and limited per email and per IP address (429 with Retry-After).",
)
async def sign_in(
    body: SignInRequest, session: ServiceSession, settings: AppSettings, meta: RequestMeta
) -> TokenResponse:
    # Service role: the caller is not authenticated yet, and accounts live in auth.users.
    return await service.sign_in(session, body, settings=settings, meta=meta)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses=error_responses(401),
    summary="Exchange a refresh token for new tokens",
    description="Refresh tokens are single use. Presenting a used one again signs its session out.",
)
async def refresh(
    body: RefreshRequest, session: ServiceSession, settings: AppSettings, meta: RequestMeta
) -> TokenResponse:
    return await service.refresh(session, body.refresh_token, settings=settings, meta=meta)


@router.post(
    "/signout",
    status_code=204,
    response_class=Response,
    summary="Sign out: the session's access and refresh tokens stop working",
)
async def sign_out(principal: CurrentPrincipal, session: ServiceSession, meta: RequestMeta) -> None:
    # Service role: sessions are not readable or writable by users.
    await service.sign_out(session, principal, meta=meta)


@router.get(
    "/sessions",
    response_model=list[SessionInfo],
    summary="Your sign-in sessions (browsers and apps), newest first",
)
async def list_sessions(principal: CurrentPrincipal, session: ServiceSession) -> list[SessionInfo]:
    # Service role: sessions are not readable by users; the query names the caller's own id.
    return await service.list_sessions(session, principal)


@router.post(
    "/signout-everywhere",
    status_code=204,
    response_class=Response,
    responses=error_responses(403),
    summary="Sign out every session of your account, this one included",
    description="Every access and refresh token of every session stops working. API keys are not "
    "sessions: revoke them with `DELETE /api/v1/api-keys/{id}`.",
)
async def sign_out_everywhere(
    principal: CurrentPrincipal, session: ServiceSession, meta: RequestMeta
) -> None:
    # Service role: sessions are not readable or writable by users.
    await service.sign_out_everywhere(session, principal, meta=meta)


@router.post(
    "/password",
    status_code=204,
    response_class=Response,
    responses=error_responses(403, 422, 429),
    summary="Change your password (the current one is required)",
    description="Your other sessions are signed out; the one making this request stays signed in. "
    "A wrong current password counts as a failed sign-in (same rate limit).",
)
async def change_password(
    body: PasswordChange,
    principal: CurrentPrincipal,
    session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
) -> None:
    # Service role: the password hash lives in auth.users, which users cannot read or write.
    await service.change_password(session, principal, body, settings=settings, meta=meta)


@router.get("/me", response_model=CurrentUser, summary="The signed-in user, and how they authenticated")
async def me(principal: CurrentPrincipal, session: ServiceSession) -> CurrentUser:
    # Service role: auth.users is not readable by users; the query names the caller's own id.
    return await service.current_user(session, principal)
