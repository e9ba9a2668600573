"""Token usage as the providers report it, and what it costs in Autofy credits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from autofy.connectors.sdk import StrictModel

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

TOKENS_PER_CREDIT = 1000


class TokenUsage(StrictModel):
    input_tokens: int = Field(0, description="Tokens in the prompt, as the provider counted them.")
    output_tokens: int = Field(0, description="Tokens in the answer, as the provider counted them.")
    total_tokens: int = Field(0, description="Input and output tokens together.")
    credits: int = Field(
        0, description="Credits for the tokens (1 per started 1,000), charged on top of the run's 1 credit."
    )


def credits_for_usage(input_tokens: int, output_tokens: int) -> int:
    """Token-based credits for one model call: 1 credit per started 1,000 tokens, in and out.

    The engine charges the action's flat `Action.credits` (1) per run on top of this, so a call of
    1,500 tokens costs 1 + 2 = 3 credits, and a call the provider reports no usage for costs 1.
    """
    return math.ceil((input_tokens + output_tokens) / TOKENS_PER_CREDIT)


def token_usage(message: AIMessage) -> TokenUsage:
    """The usage LangChain normalised into `usage_metadata` (also on a merged stream)."""
    usage = message.usage_metadata
    if usage is None:
        return TokenUsage()
    input_tokens = int(usage.get("input_tokens", 0))
    output_tokens = int(usage.get("output_tokens", 0))
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=int(usage.get("total_tokens", input_tokens + output_tokens)),
        credits=credits_for_usage(input_tokens, output_tokens),
    )


def reported_model(message: AIMessage, requested: str) -> str:
    """The model the provider says answered (an alias resolves to a version), else the one asked."""
    metadata = message.response_metadata
    for key in ("model_name", "model"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return requested
