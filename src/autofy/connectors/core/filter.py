"""The filter step: continue the run only when the rules pass (Zapier's Filter)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from autofy.connectors.core.conditions import RuleGroup, evaluate_conditions
from autofy.connectors.sdk import Action, ConnectorContext


class FilterInput(RuleGroup):
    """The rules, in the same shape as a step's `conditions`."""


class FilterOutput(BaseModel):
    passed: bool = Field(description="Whether the rules passed; when false the run ends as filtered.")
    explanation: str = Field(description="Which rule decided, in words.")


class Filter(Action[FilterInput, FilterOutput]):
    name = "filter"
    display_name = "Only continue if"
    description = (
        "Stop the run here unless the rules pass. Rules compare values (usually templates such as "
        "{{ trigger.from }}) with `all` (every rule must pass) or `any` (one is enough); a run that "
        "stops here is recorded as completed and filtered, not failed."
    )
    input_model = FilterInput
    output_model = FilterOutput
    step_type = "condition"

    async def run(self, ctx: ConnectorContext, params: FilterInput) -> FilterOutput:
        outcome = evaluate_conditions(params)
        return FilterOutput(passed=outcome.passed, explanation=outcome.explanation)
