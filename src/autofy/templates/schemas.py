"""Response and request models of workflow templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autofy.pagination import OffsetPage
from autofy.workflows.schemas import WorkflowName

Difficulty = Literal["beginner", "intermediate", "advanced"]
InputType = Literal["string", "number", "integer", "boolean"]


class TemplateInput(BaseModel):
    """Something the user fills in when instantiating: its value goes to every pointer in `targets`."""

    key: str
    label: str
    type: InputType = "string"
    required: bool = False
    description: str | None = None
    targets: list[str] = Field(description="JSON Pointers into the template's workflow document.")


class TemplateSummary(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    category: str
    difficulty: Difficulty
    required_integrations: list[str]
    preview_image: str | None
    use_count: int
    is_featured: bool
    inputs: list[TemplateInput]
    created_at: datetime
    updated_at: datetime


class Template(TemplateSummary):
    template_data: dict[str, Any] = Field(description="The workflow document (docs/workflow-format.md).")


class TemplateInstantiate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict, description="A value for each input, by key.")
    name: WorkflowName | None = Field(default=None, description="Defaults to the template's workflow name.")


class TemplatePage(OffsetPage[TemplateSummary]):
    pass
