"""Accounts and sessions: sign-up, sign-in (rate-limited, audited), rotating refresh, sign-out,
and turning a bearer credential (JWT or API key) into a `Principal`."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.api_keys import repository as api_key_repository
from autofy.audit import repository as audit_repository
from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.auth import repository
from autofy.auth.schemas import (
    ALL_PERMISSIONS,
    CurrentUser,
    PasswordChange,
    Principal,
    SessionInfo,
    SignInRequest,
    SignUpRequest,
    TokenResponse,
    User,
    effective_permissions,
)
from autofy.config import Settings
from autofy.db.engine import user_claims
from autofy.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    ValidationFailedError,
)
from autofy.security import passwords, tokens
from autofy.security.api_keys import ApiKey, ApiKeyHasher

SIGN_IN_FAILED = "auth.sign_in_failed"


class InvalidCredentialsError(UnauthorizedError):
    """Wrong email or password; the failure's audit row must stand (it feeds the rate limit)."""

    keeps_changes = True
    default_message = "Invalid email or password."


class RefreshTokenReusedError(UnauthorizedError):
    """A revoked refresh token came back: it leaked, so its whole session has been revoked."""

    keeps_changes = True
    default_message = "The refresh token has already been used; the session has been signed out."


class WrongCurrentPasswordError(ValidationFailedError):
    """The current password given to change it is wrong; like a failed sign-in, its audit row must
    stand (it counts toward the same rate limit, so this form is no way around it)."""

    keeps_changes = True
    default_message = "The current password is not right."


def _jwt_secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None, "create_app requires settings with secrets"
    return settings.jwt_secret.get_secret_value()


def _hash_refresh_token(token: str) -> str:
    # 256 random bits need no salt or slow hash: SHA-256 only keeps a stolen table from being used.
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def _issue_tokens(
    session: AsyncSession,
    *,
    user: User,
    session_id: uuid.UUID,
    parent_token_id: int | None,
    settings: Settings,
) -> TokenResponse:
    refresh_token = secrets.token_urlsafe(32)
    await repository.insert_refresh_token(
        session,
        token_hash=_hash_refresh_token(refresh_token),
        user_id=user.id,
        session_id=session_id,
        parent_id=parent_token_id,
    )
    access = tokens.issue_access_token(
        secret=_jwt_secret(settings),
        user_id=user.id,
        email=user.email,
        session_id=session_id,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    return TokenResponse(
        access_token=access.token,
        expires_in=access.expires_in,
        expires_at=int(access.expires_at.timestamp()),
        refresh_token=refresh_token,
        user=user,
    )


async def create_account(
    session: AsyncSession, request: SignUpRequest, *, settings: Settings, meta: RequestInfo
) -> User:
    """A new account (its profile and preferences come from the database trigger), audited."""
    email = normalize_email(request.email)
    problems = passwords.password_problems(
        request.password, email=email, min_length=settings.password_min_length
    )
    if problems:
        raise ValidationFailedError(
            "The password is too weak.",
            details=[{"field": "password", "message": problem} for problem in problems],
        )
    metadata = {"full_name": request.full_name} if request.full_name else {}
    password_hash = passwords.PasswordHashing.from_settings(settings).hash(request.password)
    row = await repository.insert_user(session, email=email, password_hash=password_hash, metadata=metadata)
    if row is None:
        raise ConflictError(
            "An account with this email already exists.",
            details=[{"field": "email", "message": "This email is already registered."}],
        )
    user = User.model_validate(row._mapping)
    await repository.set_credits_allowance(session, user.id, settings.plan_credits("free"))
    await audit.record(
        session, user_id=user.id, action="auth.sign_up", resource_type="user", resource_id=user.id, meta=meta
    )
    return user


async def open_session_for_new_account(
    session: AsyncSession, request: SignUpRequest, *, settings: Settings, meta: RequestInfo
) -> tuple[User, uuid.UUID]:
    """A new account and its first sign-in session (no tokens: the web app keeps it in a cookie)."""
    user = await create_account(session, request, settings=settings, meta=meta)
    session_id = await repository.create_session(
        session, user_id=user.id, ip_address=meta.ip_address, user_agent=meta.user_agent
    )
    return user, session_id


async def sign_up(
    session: AsyncSession, request: SignUpRequest, *, settings: Settings, meta: RequestInfo
) -> TokenResponse:
    """A new account, signed in."""
    user, session_id = await open_session_for_new_account(session, request, settings=settings, meta=meta)
    return await _issue_tokens(
        session, user=user, session_id=session_id, parent_token_id=None, settings=settings
    )


async def _refuse_if_rate_limited(
    session: AsyncSession, *, email: str, meta: RequestInfo, settings: Settings
) -> None:
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.sign_in_failure_window_seconds)
    (
        email_failures,
        email_oldest,
        ip_failures,
        ip_oldest,
    ) = await audit_repository.count_recent_sign_in_failures(
        session, email=email, ip_address=meta.ip_address, since=now - window, action=SIGN_IN_FAILED
    )
    blocked_until = [
        oldest + window
        for count, limit, oldest in (
            (email_failures, settings.sign_in_failures_per_email, email_oldest),
            (ip_failures, settings.sign_in_failures_per_ip, ip_oldest),
        )
        if count >= limit and oldest is not None
    ]
    if blocked_until:
        retry_after = math.ceil((max(blocked_until) - now).total_seconds())
        raise RateLimitedError(
            retry_after, f"Too many failed sign-ins; try again in {max(1, retry_after)} seconds."
        )


async def open_session(
    session: AsyncSession, request: SignInRequest, *, settings: Settings, meta: RequestInfo
) -> tuple[User, uuid.UUID]:
    """Check the password (rate-limited, audited) and start a sign-in session, without tokens."""
    email = normalize_email(request.email)
    await _refuse_if_rate_limited(session, email=email, meta=meta, settings=settings)
    account = await repository.find_user_for_sign_in(session, email)
    stored_hash = account.encrypted_password if account is not None else None
    # Verified even for an unknown email (against a dummy hash): the answer takes as long either way.
    hashing = passwords.PasswordHashing.from_settings(settings)
    password_ok = hashing.verify(stored_hash, request.password)
    banned = (
        account is not None and account.banned_until is not None and account.banned_until > datetime.now(UTC)
    )
    if account is None or not password_ok or banned:
        reason = "banned" if banned and password_ok else "invalid_credentials"
        await audit.record(
            session,
            user_id=account.id if account is not None else None,
            action=SIGN_IN_FAILED,
            resource_type="user",
            resource_id=account.id if account is not None else None,
            details={"email": email, "reason": reason},
            meta=meta,
        )
        raise InvalidCredentialsError()
    assert stored_hash is not None
    new_hash = hashing.hash(request.password) if hashing.needs_rehash(stored_hash) else None
    user = User.model_validate(
        (await repository.mark_signed_in(session, account.id, new_password_hash=new_hash))._mapping
    )
    session_id = await repository.create_session(
        session, user_id=user.id, ip_address=meta.ip_address, user_agent=meta.user_agent
    )
    await audit.record(
        session,
        user_id=user.id,
        action="auth.sign_in",
        resource_type="session",
        resource_id=session_id,
        details={"email": email},
        meta=meta,
    )
    return user, session_id


async def sign_in(
    session: AsyncSession, request: SignInRequest, *, settings: Settings, meta: RequestInfo
) -> TokenResponse:
    user, session_id = await open_session(session, request, settings=settings, meta=meta)
    return await _issue_tokens(
        session, user=user, session_id=session_id, parent_token_id=None, settings=settings
    )


async def refresh(
    session: AsyncSession, refresh_token: str, *, settings: Settings, meta: RequestInfo
) -> TokenResponse:
    """Exchange a refresh token for new tokens; the used one is revoked (rotation).

    A revoked token presented again means it was copied: like Supabase, the whole session is
    revoked, so whichever party holds the newer token is signed out too.
    """
    token = await repository.lock_refresh_token(session, _hash_refresh_token(refresh_token))
    if token is None:
        raise UnauthorizedError("The refresh token is invalid or its session was signed out.")
    if token.revoked:
        await repository.delete_session(session, token.session_id)
        await audit.record(
            session,
            user_id=token.user_id,
            action="auth.refresh_token_reused",
            resource_type="session",
            resource_id=token.session_id,
            meta=meta,
        )
        raise RefreshTokenReusedError()
    now = datetime.now(UTC)
    if token.created_at + timedelta(seconds=settings.refresh_token_ttl_seconds) <= now:
        raise UnauthorizedError("The refresh token has expired; sign in again.")
    if token.banned_until is not None and token.banned_until > now:
        raise UnauthorizedError("The account is suspended.")
    await repository.revoke_refresh_token(session, token.id)
    await repository.mark_session_refreshed(session, token.session_id)
    row = await repository.get_user(session, token.user_id)
    assert row is not None, "a refresh token's user is deleted with it"
    return await _issue_tokens(
        session,
        user=User.model_validate(row._mapping),
        session_id=token.session_id,
        parent_token_id=token.id,
        settings=settings,
    )


async def sign_out(session: AsyncSession, principal: Principal, *, meta: RequestInfo) -> None:
    if principal.session_id is None:
        raise ForbiddenError("API keys have no session to sign out; revoke the key instead.")
    await repository.delete_session(session, principal.session_id)
    await audit.record(
        session,
        user_id=principal.user_id,
        action="auth.sign_out",
        resource_type="session",
        resource_id=principal.session_id,
        meta=meta,
    )


async def list_sessions(session: AsyncSession, principal: Principal) -> list[SessionInfo]:
    return [
        SessionInfo.model_validate({**row._mapping, "current": row.id == principal.session_id})
        for row in await repository.list_sessions(session, principal.user_id)
    ]


async def sign_out_everywhere(session: AsyncSession, principal: Principal, *, meta: RequestInfo) -> int:
    """End every sign-in session of the user, the caller's own included (browsers, apps, API access
    tokens): how many ended. API keys are not sessions; they keep working until revoked."""
    if principal.session_id is None:
        raise ForbiddenError("API keys have no session to sign out; revoke the key instead.")
    ended = await repository.delete_sessions(session, principal.user_id)
    await audit.record(
        session,
        user_id=principal.user_id,
        action="auth.sign_out_everywhere",
        resource_type="user",
        resource_id=principal.user_id,
        details={"sessions_ended": ended},
        meta=meta,
    )
    return ended


async def change_password(
    session: AsyncSession,
    principal: Principal,
    request: PasswordChange,
    *,
    settings: Settings,
    meta: RequestInfo,
) -> int:
    """Set a new password once the current one is confirmed; the user's other sessions are signed out
    (whoever knew the old password is locked out), the caller's stays. Returns how many ended."""
    if principal.session_id is None:
        raise ForbiddenError("An API key cannot change the password; sign in with the password to do it.")
    email = normalize_email(principal.email or "")
    await _refuse_if_rate_limited(session, email=email, meta=meta, settings=settings)
    hashing = passwords.PasswordHashing.from_settings(settings)
    if not hashing.verify(
        await repository.get_password_hash(session, principal.user_id), request.current_password
    ):
        await audit.record(
            session,
            user_id=principal.user_id,
            action=SIGN_IN_FAILED,
            resource_type="user",
            resource_id=principal.user_id,
            details={"email": email, "reason": "wrong_current_password"},
            meta=meta,
        )
        raise WrongCurrentPasswordError(
            details=[{"field": "current_password", "message": "This is not your current password."}]
        )
    problems = passwords.password_problems(
        request.new_password, email=email, min_length=settings.password_min_length
    )
    if request.new_password == request.current_password:
        problems.append("The new password must differ from the current one.")
    if problems:
        raise ValidationFailedError(
            "The new password is too weak.",
            details=[{"field": "new_password", "message": problem} for problem in problems],
        )
    await repository.set_password_hash(session, principal.user_id, hashing.hash(request.new_password))
    ended = await repository.delete_sessions(session, principal.user_id, keep=principal.session_id)
    await audit.record(
        session,
        user_id=principal.user_id,
        action="auth.password_change",
        resource_type="user",
        resource_id=principal.user_id,
        details={"other_sessions_ended": ended},
        meta=meta,
    )
    return ended


async def current_user(session: AsyncSession, principal: Principal) -> CurrentUser:
    row = await repository.get_user(session, principal.user_id)
    if row is None:
        raise NotFoundError("The account no longer exists.")
    return CurrentUser(
        **User.model_validate(row._mapping).model_dump(),
        authenticated_by="api_key" if principal.api_key_id else "jwt",
        permissions=sorted(principal.permissions),
        api_key_id=principal.api_key_id,
    )


# --- authenticating a request ---------------------------------------------------------------------


async def principal_from_access_token(session: AsyncSession, token: str, *, settings: Settings) -> Principal:
    verified = tokens.decode_access_token(token, secret=_jwt_secret(settings))
    # A signature alone is not enough: signing out (or a refresh-token reuse) deletes the session,
    # and its access tokens must stop working at once, not when they expire.
    if not await repository.session_is_active(
        session, session_id=verified.session_id, user_id=verified.user_id
    ):
        raise UnauthorizedError("The session has been signed out.")
    return Principal(
        user_id=verified.user_id,
        email=verified.email,
        claims=verified.claims,
        permissions=ALL_PERMISSIONS,
        session_id=verified.session_id,
    )


async def principal_from_session(
    session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID
) -> Principal:
    """The user of a browser's sign-in session (the web app's cookie names it), while it is active."""
    if not await repository.session_is_active(session, session_id=session_id, user_id=user_id):
        raise UnauthorizedError("The session has been signed out.")
    row = await repository.get_user(session, user_id)
    assert row is not None, "an active session's user exists (sessions are deleted with it)"
    return Principal(
        user_id=user_id,
        email=row.email,
        claims=user_claims(user_id, row.email, session_id=str(session_id)),
        permissions=ALL_PERMISSIONS,
        session_id=session_id,
    )


async def principal_from_api_key(session: AsyncSession, key: ApiKey, *, settings: Settings) -> Principal:
    hasher = ApiKeyHasher.from_settings(settings)
    candidates = await api_key_repository.find_by_prefix(session, key.prefix)
    # Every candidate is compared (prefixes are not unique), each in constant time.
    matches = [row for row in candidates if hasher.matches(key, row.key_hash)]
    if not matches:
        raise UnauthorizedError("The API key is invalid.")
    row = matches[0]
    if not row.is_active:
        raise UnauthorizedError("The API key has been revoked.")
    now = datetime.now(UTC)
    if row.expires_at is not None and row.expires_at <= now:
        raise UnauthorizedError("The API key has expired.")
    # As for access tokens (`session_is_active`): a suspended account's keys stop working too.
    if row.banned_until is not None and row.banned_until > now:
        raise UnauthorizedError("The account is suspended.")
    await api_key_repository.record_use(session, row.id)
    claims: dict[str, Any] = user_claims(row.user_id, row.email, api_key_id=str(row.id))
    return Principal(
        user_id=row.user_id,
        email=row.email,
        claims=claims,
        permissions=effective_permissions(row.permissions or ()),
        api_key_id=row.id,
    )
