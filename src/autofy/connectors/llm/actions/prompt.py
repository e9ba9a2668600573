"""prompt: send a prompt (and an optional system message) to a model and get its text back."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from autofy.connectors.llm.actions.base import LLMAction, ModelInput, ModelOutput, text_of
from autofy.connectors.llm.usage import reported_model, token_usage
from autofy.connectors.sdk import ConnectorContext


class PromptInput(ModelInput):
    system: str = Field("", description="Instructions that frame every answer (the system message).")
    prompt: str = Field(min_length=1, description="What to ask the model.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Randomness, 0 (focused) to 2; empty uses the model's default."
    )
    max_tokens: int | None = Field(
        None, ge=1, le=200_000, description="Upper bound on the answer's length, in tokens."
    )


class PromptOutput(ModelOutput):
    text: str = Field(description="The model's answer.")


class Prompt(LLMAction[PromptInput, PromptOutput]):
    name = "prompt"
    display_name = "Prompt a model"
    description = (
        "Send a prompt, with an optional system message, to a language model and return its text "
        "answer and the tokens it used."
    )
    base_input_model: ClassVar[type[ModelInput]] = PromptInput
    output_model = PromptOutput

    async def run(self, ctx: ConnectorContext, params: PromptInput) -> PromptOutput:
        answer = await self.call_model(
            ctx,
            params.model,
            system=params.system,
            prompt=params.prompt,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
        )
        return PromptOutput(
            text=text_of(answer), model=reported_model(answer, params.model), usage=token_usage(answer)
        )
