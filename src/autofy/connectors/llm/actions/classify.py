"""classify: put a text into exactly one of the labels given."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from autofy.connectors.llm.actions.base import LLMAction, ModelInput, ModelOutput, text_of
from autofy.connectors.llm.usage import reported_model, token_usage
from autofy.connectors.sdk import ConnectorContext, PermanentError

CLASSIFY_INSTRUCTIONS = (
    "You classify texts. Answer with exactly one of these labels and nothing else:\n{labels}"
)


class ClassifyInput(ModelInput):
    text: str = Field(min_length=1, description="The text to classify.")
    labels: list[str] = Field(
        min_length=2, description="The labels to choose from (at least two, all different)."
    )
    instructions: str = Field("", description="What each label means, or how to decide.")

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str]) -> list[str]:
        cleaned = [label.strip() for label in labels]
        if any(not label for label in cleaned):
            raise ValueError("labels must not be empty")
        if len({label.casefold() for label in cleaned}) != len(cleaned):
            raise ValueError("labels must all be different")
        return cleaned


class ClassifyOutput(ModelOutput):
    label: str = Field(description="The label chosen, exactly as given in labels.")


def matching_label(answer: str, labels: list[str]) -> str | None:
    """The label the answer names: models add quotes, a full stop or change the case."""
    normalized = answer.strip().strip("\"'`*.!").strip().casefold()
    for label in labels:
        if label.casefold() == normalized:
            return label
    return None


class Classify(LLMAction[ClassifyInput, ClassifyOutput]):
    name = "classify"
    display_name = "Classify text"
    description = (
        "Put a text into exactly one of the given labels (for example urgent / normal / spam), "
        "optionally guided by instructions; the answer is always one of the labels."
    )
    base_input_model: ClassVar[type[ModelInput]] = ClassifyInput
    output_model = ClassifyOutput

    async def run(self, ctx: ConnectorContext, params: ClassifyInput) -> ClassifyOutput:
        system = CLASSIFY_INSTRUCTIONS.format(labels="\n".join(params.labels))
        if params.instructions:
            system = f"{system}\n\n{params.instructions}"
        answer = await self.call_model(ctx, params.model, system=system, prompt=params.text, temperature=0)
        text = text_of(answer)
        label = matching_label(text, params.labels)
        if label is None:
            raise PermanentError(
                f"{self.provider.display_name} answered {text[:100]!r}, which is not one of the "
                f"labels {params.labels}"
            )
        return ClassifyOutput(
            label=label, model=reported_model(answer, params.model), usage=token_usage(answer)
        )
