"""What an account has used: its plan and credits, runs per day, the busiest workflows."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from autofy.credits.schemas import CreditUsage


class DailyRuns(BaseModel):
    day: date = Field(description="A day in your profile's time zone.")
    completed: int
    failed: int
    other: int = Field(description="Runs still running, or cancelled.")
    credits_used: int

    @property
    def total(self) -> int:
        return self.completed + self.failed + self.other


class BusyWorkflow(BaseModel):
    workflow_id: uuid.UUID
    name: str
    runs: int
    failed: int
    credits_used: int
    last_run_at: datetime


class UsageOverview(BaseModel):
    credits: CreditUsage = Field(description="The plan and this period's credits.")
    timezone: str = Field(description="The time zone the days are counted in (your profile's).")
    days: list[DailyRuns] = Field(description="Oldest first, one entry per day, days without runs included.")
    busiest_workflows: list[BusyWorkflow] = Field(description="Most runs over the same days first.")
