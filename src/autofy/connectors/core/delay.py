"""The delay step: park the run for a while, or until a moment. The engine does the waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, model_validator

from autofy.connectors.sdk import Action, ConnectorContext, PermanentError, StrictModel

MAX_DELAY = timedelta(days=30)


class DelayInput(StrictModel):
    seconds: float | None = Field(default=None, ge=0, description="Seconds to wait.")
    minutes: float | None = Field(default=None, ge=0, description="Minutes to wait.")
    hours: float | None = Field(default=None, ge=0, description="Hours to wait.")
    until: str | None = Field(
        default=None,
        description="Wait until this moment instead (ISO 8601, e.g. 2026-12-01T09:00:00+01:00; "
        "without an offset it is read as UTC). A moment already past does not wait.",
    )

    @model_validator(mode="after")
    def _one_way_to_wait(self) -> DelayInput:
        durations = (self.seconds, self.minutes, self.hours)
        if self.until is not None and any(d is not None for d in durations):
            raise ValueError("give either `until` or a duration (seconds, minutes, hours), not both")
        if self.until is None and all(d is None for d in durations):
            raise ValueError("give a duration (seconds, minutes or hours) or `until`")
        return self


class DelayOutput(BaseModel):
    resume_at: str = Field(description="When the run continues (ISO 8601, UTC).")


def resume_at(params: DelayInput, now: datetime) -> datetime:
    """When a run parked at `now` by this delay continues. Pure: the engine calls it too."""
    if params.until is not None:
        try:
            moment = datetime.fromisoformat(params.until)
        except ValueError:
            raise PermanentError(f"`until` is not an ISO 8601 date and time: {params.until!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment - now > MAX_DELAY:
            raise PermanentError(f"a delay can last at most {MAX_DELAY.days} days")
        return max(moment, now).astimezone(UTC)
    wait = timedelta(seconds=params.seconds or 0, minutes=params.minutes or 0, hours=params.hours or 0)
    if wait > MAX_DELAY:
        raise PermanentError(f"a delay can last at most {MAX_DELAY.days} days")
    return (now + wait).astimezone(UTC)


class Delay(Action[DelayInput, DelayOutput]):
    name = "delay"
    display_name = "Delay"
    description = (
        "Pause the run for a number of seconds, minutes or hours, or until a given date and time "
        "(at most 30 days), then continue with the next step. The wait survives restarts."
    )
    input_model = DelayInput
    output_model = DelayOutput
    step_type = "delay"

    async def run(self, ctx: ConnectorContext, params: DelayInput) -> DelayOutput:
        return DelayOutput(resume_at=resume_at(params, datetime.now(UTC)).isoformat())
