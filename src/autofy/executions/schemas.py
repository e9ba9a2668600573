"""Response models of the execution history and the dashboard."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from autofy.credits.schemas import CreditUsage

ExecutionStatus = Literal["running", "completed", "failed", "cancelled"]


class ExecutionSummary(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    execution_status: ExecutionStatus
    started_at: datetime
    completed_at: datetime | None
    duration_seconds: float | None
    total_steps: int
    completed_steps: int
    failed_steps: int
    error_message: str | None
    error_step_id: uuid.UUID | None
    credits_used: int


class Execution(ExecutionSummary):
    trigger_data: dict[str, Any]
    step_results: list[dict[str, Any]] = Field(
        description="Per step: status, attempts, start/end, duration, rendered input, output, error."
    )
    metadata: dict[str, Any]


class RecentFailure(BaseModel):
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    error_message: str | None
    started_at: datetime


class Dashboard(BaseModel):
    workflows_total: int
    workflows_active: int
    executions_total: int
    executions_completed: int
    executions_failed: int
    executions_running: int
    success_rate: float | None = Field(
        description="Completed ÷ (completed + failed), from 0 to 1; null before any run has finished."
    )
    credits_used: int = Field(description="Credits used in the current period.")
    credits_limit: int = Field(description="The period's allowance plus any credits granted in it.")
    recent_failures: list[RecentFailure]


@dataclass(frozen=True)
class Today:
    """What Home shows: the account's workflows, today's runs and this period's credits."""

    workflows_total: int
    workflows_active: int
    runs_completed: int
    runs_failed: int
    credits: CreditUsage
