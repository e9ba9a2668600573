"""Request and response models of the integration routes.

Credentials go in and never come out: responses list which credential fields are set
(`credential_fields`), never a value.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

ServiceName = Literal["gmail", "notion", "telegram", "openai", "anthropic", "gemini", "openrouter", "http"]
IntegrationStatus = Literal["active", "inactive", "error", "expired"]

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CredentialValue = Annotated[str, StringConstraints(max_length=10_000)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password; put credentials in `credentials`")
    return value


HttpUrl = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]


class IntegrationConfiguration(BaseModel):
    """Non-secret settings of a connection. Unknown keys are refused so a typo does not go unnoticed."""

    model_config = ConfigDict(extra="forbid")

    api_base: HttpUrl | None = Field(
        default=None,
        description="Base URL of the service's API, e.g. any OpenAI-compatible server for `openai`.",
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, le=600, description="Time limit of one call (slow local models)."
    )
    organization: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="OpenAI organization id."
    )
    site_url: HttpUrl | None = Field(default=None, description="OpenRouter: your site, sent as HTTP-Referer.")
    api_version: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        default=None, description="Notion-Version header."
    )
    authorize_url: HttpUrl | None = Field(
        default=None, description="Gmail: OAuth consent URL (Google's by default)."
    )
    token_url: HttpUrl | None = Field(
        default=None, description="Gmail: OAuth token URL (Google's by default)."
    )

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_name: ServiceName
    display_name: DisplayName | None = Field(default=None, description="Defaults to the service's name.")
    credentials: dict[str, CredentialValue] = Field(
        description="The credential fields the service declares (`GET /api/v1/catalog/{service}`); "
        "stored encrypted and never returned.",
    )
    configuration: IntegrationConfiguration = Field(default_factory=IntegrationConfiguration)


class IntegrationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    credentials: dict[str, CredentialValue] | None = Field(
        default=None, description="A complete new set of credentials; replaces the stored one."
    )
    configuration: IntegrationConfiguration | None = Field(
        default=None, description="A complete new configuration; replaces the stored one."
    )


class Integration(BaseModel):
    id: uuid.UUID
    service_name: ServiceName
    display_name: str
    configuration: dict[str, Any]
    status: IntegrationStatus
    last_tested_at: datetime | None
    error_message: str | None
    credential_fields: list[str] = Field(description="Names of the credential fields that are set.")
    account: str | None = Field(description="Whom the credentials belong to, as the last test found out.")
    created_at: datetime
    updated_at: datetime


class IntegrationUse(BaseModel):
    """A workflow whose steps use the integration: removing the integration stops it from running."""

    workflow_id: uuid.UUID
    name: str
    status: str


class IntegrationTestResult(BaseModel):
    ok: bool = Field(description="The service accepted the credentials.")
    reached: bool = Field(
        description="The service answered. False when it could not be reached or failed (offline, "
        "timeout, 5xx, 429): the credentials were not checked and the status did not change; "
        "`message` says what failed. Also false when the stored credentials cannot be decrypted "
        "(status `error`: enter them again)."
    )
    status: IntegrationStatus
    message: str
    account: str | None
    tested_at: datetime


class IntegrationTemplate(BaseModel):
    id: uuid.UUID
    service_name: str
    template_name: str
    description: str | None
    configuration: dict[str, Any]
    required_scopes: list[str]
    setup_guide: str | None


class OAuthAuthorization(BaseModel):
    authorization_url: str = Field(description="Send the user's browser here to grant access.")
    redirect_uri: str = Field(description="Must be listed as an authorized redirect URI of the OAuth client.")
    expires_in: int = Field(description="Seconds the authorization link stays valid.")
