"""What the catalog API returns: services, their auth, actions and triggers with JSON schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from autofy.connectors.sdk import AuthKind, StepKind


class CredentialFieldDescription(BaseModel):
    name: str
    label: str
    description: str
    secret: bool
    required: bool


class AuthDescription(BaseModel):
    kind: AuthKind
    fields: list[CredentialFieldDescription]
    how_to_obtain: str
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes asked for.")


class ActionDescription(BaseModel):
    kind: Literal["action"] = "action"
    service_name: str
    name: str
    display_name: str
    description: str
    step_type: StepKind
    credits: int
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class TriggerDescription(BaseModel):
    kind: Literal["trigger"] = "trigger"
    service_name: str
    name: str
    display_name: str
    description: str
    step_type: Literal["trigger"] = "trigger"
    config_schema: dict[str, Any]
    output_schema: dict[str, Any]


class ServiceDescription(BaseModel):
    service_name: str
    display_name: str
    description: str
    requires_integration: bool
    auth: AuthDescription
    default_api_base: str
    actions: list[ActionDescription]
    triggers: list[TriggerDescription]


class CatalogDescription(BaseModel):
    services: list[ServiceDescription]


class SearchHit(BaseModel):
    service_name: str
    name: str
    kind: Literal["action", "trigger"]
    display_name: str
    description: str
    score: float
