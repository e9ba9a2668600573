"""What the engine's routes return."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class ExecutionStarted(BaseModel):
    execution_id: uuid.UUID = Field(
        description="The new execution; follow it at GET /api/v1/executions/{execution_id}."
    )


class ExecutionCancelled(BaseModel):
    execution_id: uuid.UUID
    execution_status: str = Field(default="cancelled", description="Always `cancelled`.")
