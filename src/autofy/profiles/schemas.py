from __future__ import annotations

import json
import uuid
import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, JsonValue, UrlConstraints, field_validator

PREFERENCE_KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
MAX_PREFERENCE_VALUE_BYTES = 16_384

AvatarUrl = Annotated[HttpUrl, UrlConstraints(max_length=2048, allowed_schemes=["https", "http"])]


@lru_cache(maxsize=1)
def iana_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Profile(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    avatar_url: str | None
    timezone: str | None
    plan_type: str | None
    credits_used: int | None = Field(
        description="Credits charged in the current period; GET /api/v1/usage shows the period, "
        "what runs in progress hold and what remains."
    )
    credits_limit: int | None = Field(description="The plan's credits per period (a calendar month, UTC).")
    onboarding_completed: bool | None
    created_at: datetime
    updated_at: datetime


class ProfileUpdate(BaseModel):
    """Only these fields are yours to change; sending any other (plan_type, credits_…) is a 422."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, max_length=200)
    avatar_url: AvatarUrl | None = None
    timezone: str = Field(default="UTC", description="An IANA time zone name, e.g. `Europe/Paris`.")
    onboarding_completed: bool = False

    @field_validator("full_name")
    @classmethod
    def _strip_name(cls, full_name: str | None) -> str | None:
        return full_name.strip() or None if full_name is not None else None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        if timezone not in iana_timezones():
            raise ValueError("Not an IANA time zone name (such as `UTC` or `Europe/Paris`).")
        return timezone


NOTIFICATIONS_KEY = "notifications"


class NotificationSettings(BaseModel):
    """The `notifications` preference: for each event, whether to tell the user in the app and by
    email. The seed's `email_on_failure`, extended with the same `<channel>_on_<event>` names; a
    missing key means its default. (The seed's `email_on_success` is kept but means nothing: runs
    that complete notify nobody, as in Zapier and n8n.)"""

    model_config = ConfigDict(extra="forbid")

    in_app_on_failure: bool = Field(default=True, description="A run failed.")
    email_on_failure: bool = True
    in_app_on_integration_error: bool = Field(default=True, description="An integration stopped working.")
    email_on_integration_error: bool = True
    in_app_on_credits_low: bool = Field(default=True, description="Credits are nearly used up.")
    email_on_credits_low: bool = True


class Preference(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: JsonValue
    created_at: datetime
    updated_at: datetime


class PreferenceWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: JsonValue = Field(description=f"Any JSON value, at most {MAX_PREFERENCE_VALUE_BYTES} bytes.")

    @field_validator("value")
    @classmethod
    def _small_enough(cls, value: JsonValue) -> JsonValue:
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_PREFERENCE_VALUE_BYTES:
            raise ValueError(f"The value must be at most {MAX_PREFERENCE_VALUE_BYTES} bytes of JSON.")
        return value
