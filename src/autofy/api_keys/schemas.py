from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from autofy.auth.schemas import Permission


def _read_only() -> list[Permission]:
    return ["read"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Unique among your keys.")
    permissions: list[Permission] = Field(
        default_factory=_read_only,
        min_length=1,
        description="`read`; `write` and `execute` include `read`; `admin` is everything.",
    )
    expires_at: AwareDatetime | None = Field(default=None, description="Must be in the future.")

    @field_validator("name")
    @classmethod
    def _strip_name(cls, name: str) -> str:
        stripped = name.strip()
        if not stripped:
            raise ValueError("The name must not be blank.")
        return stripped

    @field_validator("permissions")
    @classmethod
    def _unique_permissions(cls, permissions: list[Permission]) -> list[Permission]:
        return sorted(set(permissions))

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, expires_at: datetime | None) -> datetime | None:
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise ValueError("The expiry must be in the future.")
        return expires_at


class ApiKeyInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(validation_alias=AliasChoices("key_name", "name"))
    prefix: str = Field(
        validation_alias=AliasChoices("key_prefix", "prefix"),
        description="Identifies the key: `afy_<prefix>_…`.",
    )
    permissions: list[str]
    last_used_at: datetime | None
    usage_count: int
    expires_at: datetime | None
    is_active: bool
    created_at: datetime


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="The full key. It is shown only this once: store it now.")
