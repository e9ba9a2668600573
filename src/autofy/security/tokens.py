"""Access tokens: JWT HS256 with Supabase's claim set, so both can verify each other's tokens.

Claims: `sub` (user id), `role` ("authenticated"), `email`, `aud` ("authenticated"), `exp`, `iat`,
`session_id` (the sign-in session; revoking it revokes the token). Verification pins the
algorithm to HS256, so `alg: none` and any other algorithm (an RS256 token "signed" with the
secret as a public key, for one) are refused, and requires the audience and every time claim.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from autofy.errors import UnauthorizedError

ALGORITHM = "HS256"
AUDIENCE = "authenticated"
ROLE = "authenticated"
_REQUIRED_CLAIMS = ["sub", "aud", "exp", "iat", "role", "session_id"]


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True)
class AccessTokenClaims:
    user_id: uuid.UUID
    email: str | None
    session_id: uuid.UUID
    claims: dict[str, Any]


def issue_access_token(
    *,
    secret: str,
    user_id: uuid.UUID,
    email: str | None,
    session_id: uuid.UUID,
    ttl_seconds: int,
    now: datetime | None = None,
) -> IssuedAccessToken:
    issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": str(user_id),
        "role": ROLE,
        "email": email,
        "aud": AUDIENCE,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "session_id": str(session_id),
    }
    token = jwt.encode(claims, secret, algorithm=ALGORITHM)
    return IssuedAccessToken(token=token, expires_at=expires_at, expires_in=ttl_seconds)


def decode_access_token(token: str, *, secret: str) -> AccessTokenClaims:
    """The verified claims, or `UnauthorizedError` saying what is wrong (never why in detail)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as error:
        raise UnauthorizedError("The access token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise UnauthorizedError("The access token is invalid.") from error
    if claims.get("role") != ROLE:
        raise UnauthorizedError("The access token is not a user's token.")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims["session_id"]))
    except ValueError as error:
        raise UnauthorizedError("The access token is invalid.") from error
    email = claims.get("email")
    return AccessTokenClaims(
        user_id=user_id,
        email=email if isinstance(email, str) else None,
        session_id=session_id,
        claims=claims,
    )
