from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Permission = Literal["read", "write", "execute", "admin"]
ALL_PERMISSIONS: frozenset[str] = frozenset({"read", "write", "execute", "admin"})


def effective_permissions(granted: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """What a key may do: `admin` is everything; `write` and `execute` include `read`."""
    permissions = set(granted) & ALL_PERMISSIONS
    if "admin" in permissions:
        return ALL_PERMISSIONS
    if permissions & {"write", "execute"}:
        permissions.add("read")
    return frozenset(permissions)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user (JWT) or one of their API keys.

    `claims` is what the database sees as `request.jwt.claims` (so `auth.uid()` names the user);
    `permissions` is all four for a JWT, the key's (expanded) scopes for an API key.
    """

    user_id: uuid.UUID
    email: str | None
    claims: dict[str, Any]
    permissions: frozenset[str]
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = field(default=None)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class SignUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    full_name: str | None = Field(default=None, max_length=200)


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class User(BaseModel):
    id: uuid.UUID
    email: str | None
    role: str
    full_name: str | None
    email_confirmed_at: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime


class SessionInfo(BaseModel):
    """A sign-in session: a browser's cookie, or an app's access and refresh tokens."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime = Field(description="When it signed in.")
    refreshed_at: datetime | None = Field(description="When its tokens were last refreshed (apps only).")
    user_agent: str | None
    ip_address: str | None
    current: bool = Field(description="The session making this request.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth 2 token type, not a secret)
    expires_in: int = Field(description="Seconds until the access token expires.")
    expires_at: int = Field(description="When the access token expires (Unix time).")
    refresh_token: str = Field(description="Single use: exchanging it returns a new one.")
    user: User


class CurrentUser(User):
    authenticated_by: Literal["jwt", "api_key"]
    permissions: list[str]
    api_key_id: uuid.UUID | None
