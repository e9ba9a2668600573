"""Request and response models of the workflow routes, and the portable workflow document.

`WorkflowDocument` is the JSON shape of docs/workflow-format.md: what export writes, import reads,
templates instantiate and the AI assistant proposes. `WorkflowCreate` is the same shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from autofy.errors import ErrorDetail, ErrorDetailModel

TriggerType = Literal["manual", "scheduled", "webhook", "email"]
StepType = Literal["trigger", "action", "condition", "delay"]
WorkflowStatus = Literal["draft", "active", "paused", "archived"]
WorkflowSortField = Literal["name", "created_at", "updated_at", "last_executed_at"]
SortOrder = Literal["asc", "desc"]

MAX_STEPS = 100

WorkflowName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
CatalogName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$"),
    Field(description="A name from the connector catalog (`GET /api/v1/catalog`), e.g. `telegram`."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorHandling(_Strict):
    retry: bool = Field(default=True, description="Retry transient failures (network, 5xx, 429).")
    max_retries: int = Field(default=3, ge=0, le=10)
    continue_on_error: bool = Field(
        default=False, description="Go on with the next step when this one fails for good."
    )


class StepFields(_Strict):
    step_type: StepType = "action"
    service_name: CatalogName
    action_name: CatalogName
    configuration: dict[str, Any] = Field(
        default_factory=dict,
        description="The action's input; values may be templates such as `{{ trigger.subject }}`.",
    )
    conditions: dict[str, Any] = Field(
        default_factory=dict,
        description="A rule tree (`all`/`any` of {left, op, right}); false skips the step.",
    )
    error_handling: ErrorHandling = Field(default_factory=ErrorHandling)
    is_enabled: bool = True


class StepDocument(StepFields):
    step_order: int | None = Field(
        default=None, ge=1, description="Position from 1; when given for one step, give it for all."
    )


class StepCreate(StepFields):
    step_order: int | None = Field(
        default=None,
        ge=1,
        description="Where to insert the step (1 = first); later steps move down. Omitted: at the end.",
    )


class StepUpdate(_Strict):
    """Fields to change; the position changes only through `PUT /workflows/{id}/steps/order`."""

    step_type: StepType | None = None
    service_name: CatalogName | None = None
    action_name: CatalogName | None = None
    configuration: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    error_handling: ErrorHandling | None = None
    is_enabled: bool | None = None


class StepOrderUpdate(_Strict):
    step_ids: list[uuid.UUID] = Field(
        description="Every step id of the workflow, once each, in the new order.", max_length=MAX_STEPS
    )


class Step(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    step_order: int
    step_type: StepType
    service_name: str
    action_name: str
    configuration: dict[str, Any]
    conditions: dict[str, Any]
    error_handling: dict[str, Any]
    is_enabled: bool
    created_at: datetime
    updated_at: datetime


class WorkflowDocument(_Strict):
    """A workflow and its steps in the portable format (docs/workflow-format.md)."""

    name: WorkflowName
    description: Description | None = None
    trigger_type: TriggerType = "manual"
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    steps: list[StepDocument] = Field(default_factory=list, max_length=MAX_STEPS)

    @field_validator("steps")
    @classmethod
    def _step_orders_all_or_none(cls, steps: list[StepDocument]) -> list[StepDocument]:
        orders = [step.step_order for step in steps]
        given = [order for order in orders if order is not None]
        if given and len(given) != len(orders):
            raise ValueError("give step_order for every step or for none")
        if len(set(given)) != len(given):
            raise ValueError("step_order values must be unique")
        return steps

    def ordered_steps(self) -> list[StepDocument]:
        """The steps in run order: by `step_order` when given, else as listed."""
        if self.steps and self.steps[0].step_order is not None:
            return sorted(self.steps, key=lambda step: step.step_order or 0)
        return list(self.steps)


class WorkflowCreate(WorkflowDocument):
    """A new workflow with all its steps, created in one transaction as a draft."""


class WorkflowUpdate(_Strict):
    """Fields to change; the status changes only through activate/pause/archive/restore."""

    name: WorkflowName | None = None
    description: Description | None = None
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)


class WorkflowSummary(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    status: WorkflowStatus
    trigger_type: TriggerType
    trigger_config: dict[str, Any]
    tags: list[str]
    total_executions: int
    successful_executions: int
    failed_executions: int
    last_executed_at: datetime | None
    average_duration_seconds: float | None
    created_from_chat: bool
    chat_session_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class Workflow(WorkflowSummary):
    steps: list[Step]


class WorkflowValidation(BaseModel):
    valid: bool
    problems: list[ErrorDetailModel] = Field(
        description="Each problem with its field, e.g. `steps.1.configuration.chat_id`."
    )
    warnings: list[ErrorDetailModel] = Field(
        default_factory=list,
        description="What may fail at run time but cannot be known before (an output field of a "
        "step whose output is only known when it runs); warnings do not block activation.",
    )

    @classmethod
    def of(cls, problems: Sequence[ErrorDetail], warnings: Sequence[ErrorDetail] = ()) -> WorkflowValidation:
        return cls(
            valid=not problems,
            problems=[ErrorDetailModel.model_validate(p) for p in problems],
            warnings=[ErrorDetailModel.model_validate(w) for w in warnings],
        )
