"""summarize: condense a text to at most a given number of words, in a chosen style."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from autofy.connectors.llm.actions.base import LLMAction, ModelInput, ModelOutput, text_of
from autofy.connectors.llm.usage import reported_model, token_usage
from autofy.connectors.sdk import ConnectorContext

SUMMARY_INSTRUCTIONS = (
    "You summarize texts faithfully. Keep names, numbers, dates and any request made of the "
    "reader; add nothing that is not in the text. Answer with the summary only, in the text's "
    "language, in at most {max_words} words, written as: {style}."
)


class SummarizeInput(ModelInput):
    text: str = Field(min_length=1, description="The text to summarize, e.g. an email body.")
    max_words: int = Field(100, ge=5, le=2000, description="The longest the summary may be, in words.")
    style: str = Field(
        "a short paragraph",
        max_length=200,
        description="How the summary reads, e.g. 'a short paragraph', 'bullet points', 'one sentence'.",
    )


class SummarizeOutput(ModelOutput):
    text: str = Field(description="The summary.")


class Summarize(LLMAction[SummarizeInput, SummarizeOutput]):
    name = "summarize"
    display_name = "Summarize text"
    description = (
        "Summarize a text (an email, a page, a report) in at most max_words words, in the given "
        "style, keeping names, numbers and dates."
    )
    base_input_model: ClassVar[type[ModelInput]] = SummarizeInput
    output_model = SummarizeOutput

    async def run(self, ctx: ConnectorContext, params: SummarizeInput) -> SummarizeOutput:
        instructions = SUMMARY_INSTRUCTIONS.format(max_words=params.max_words, style=params.style)
        answer = await self.call_model(
            ctx,
            params.model,
            system=instructions,
            prompt=params.text,
            # About 4 tokens a word leaves room for the summary without allowing an essay.
            max_tokens=params.max_words * 4 + 64,
        )
        return SummarizeOutput(
            text=text_of(answer), model=reported_model(answer, params.model), usage=token_usage(answer)
        )
