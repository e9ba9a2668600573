"""What an execution records about each step, with secrets redacted and sizes bounded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from autofy.security.secrets import is_secret_key

StepStatus = Literal["completed", "skipped", "failed", "filtered"]

# A step's output is kept in the execution row and handed to later steps: past this size the
# step fails (rather than passing on a truncated value that later steps would misread).
MAX_STEP_OUTPUT_BYTES = 256 * 1024
# Trigger data (a webhook body, an email) is stored with the execution and rendered into steps.
MAX_TRIGGER_DATA_BYTES = 1024 * 1024
# Once a run has finished, a step's input or output larger than this is cut in the stored history
# (marked, with its size and a preview): history stays bounded, while a running run's later steps
# still read every value whole.
HISTORY_VALUE_BYTES = 32 * 1024
HISTORY_PREVIEW_CHARACTERS = 4096

REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """`value` with the values of secret-looking keys (password, token, api_key, …) replaced."""
    if isinstance(value, dict):
        return {key: REDACTED if is_secret_key(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def json_size(value: Any) -> int:
    return len(json.dumps(value, default=str, separators=(",", ":")).encode())


@dataclass
class StepResult:
    """One entry of `workflow_executions.step_results`."""

    step_id: str
    step_order: int
    service_name: str
    action_name: str
    status: StepStatus
    attempts: int
    started_at: str
    completed_at: str
    duration_ms: int
    input: Any
    output: Any
    error: str | None
    credits: int = 0

    @classmethod
    def timed(
        cls,
        *,
        step: dict[str, Any],
        status: StepStatus,
        attempts: int,
        started_at: datetime,
        completed_at: datetime,
        input: Any,
        output: Any = None,
        error: str | None = None,
        credits: int = 0,
    ) -> StepResult:
        return cls(
            step_id=step["step_id"],
            step_order=step["step_order"],
            service_name=step["service_name"],
            action_name=step["action_name"],
            status=status,
            attempts=attempts,
            started_at=started_at.isoformat(),
            completed_at=completed_at.isoformat(),
            duration_ms=round((completed_at - started_at).total_seconds() * 1000),
            input=redact(input),
            output=output,
            error=error,
            credits=credits,
        )

    def as_json(self) -> dict[str, Any]:
        # Shallow: `input` is already a copy (redacted), and nothing changes a step's output once
        # recorded (templates read it in an immutable sandbox), so a deep copy would only cost.
        return dict(vars(self))


def for_history(step_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results as a finished execution keeps them: large inputs and outputs truncated, marked."""
    return [_trimmed(result) for result in step_results]


def _trimmed(result: dict[str, Any]) -> dict[str, Any]:
    if json_size(result) <= HISTORY_VALUE_BYTES:
        return result  # small as a whole, so is each of its values: one measure instead of two
    kept = dict(result)
    for field in ("input", "output"):
        size = json_size(result.get(field))
        if size > HISTORY_VALUE_BYTES:
            text = json.dumps(result.get(field), default=str)
            kept[field] = {"truncated_from_bytes": size, "preview": text[:HISTORY_PREVIEW_CHARACTERS]}
    return kept


def is_truncated(result: dict[str, Any]) -> bool:
    output = result.get("output")
    return isinstance(output, dict) and "truncated_from_bytes" in output and "preview" in output
