"""What the API and the CLI show of a user's credits."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CreditUsage(BaseModel):
    plan_type: str = Field(description="The plan: free, pro or enterprise.")
    period_start: datetime = Field(description="When the current period began (00:00 UTC on the 1st).")
    period_end: datetime = Field(
        description="When the current period ends: `used` resets to 0 and grants end then."
    )
    allowance: int = Field(description="The plan's credits per period.")
    granted: int = Field(description="Extra credits an operator granted for this period.")
    used: int = Field(description="Credits charged in this period.")
    reserved: int = Field(
        description="Credits held by runs and assistant messages in progress; what they do not use comes back."
    )
    remaining: int = Field(description="What new runs and messages may still reserve in this period.")
