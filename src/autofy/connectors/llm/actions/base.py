"""What the four LLM actions share: the provider they run for, the model field, one model call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from pydantic import BaseModel, Field, create_model

from autofy.connectors.llm.errors import provider_errors
from autofy.connectors.llm.providers import Provider
from autofy.connectors.llm.usage import TokenUsage
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel, TransientError

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

ModelInputT = TypeVar("ModelInputT", bound="ModelInput")
OutputT = TypeVar("OutputT", bound=BaseModel)

MODEL_DESCRIPTION = "The model id, as the provider names it (see the integration's model list)."


class ModelInput(StrictModel):
    """Base of every LLM action's input; each provider's copy carries its own default model."""

    model: str = Field("", description=MODEL_DESCRIPTION)


class ModelOutput(StrictModel):
    model: str = Field(description="The model that answered, as the provider reports it.")
    usage: TokenUsage = Field(description="Tokens used and the credits they cost.")


def with_default_model(input_model: type[ModelInputT], provider: Provider) -> type[ModelInputT]:
    """`input_model` whose `model` defaults to the provider's default, so the schema shows it."""
    return create_model(
        input_model.__name__,
        __base__=input_model,
        __doc__=input_model.__doc__,
        model=(str, Field(provider.default_model, description=MODEL_DESCRIPTION, min_length=1)),
    )


class LLMAction(Action[ModelInputT, OutputT]):
    """An action run the same way for every LLM provider, parametrized by `provider`."""

    base_input_model: ClassVar[type[ModelInput]]
    # 20,000 tokens (prompt and answer) at 1 credit per started 1,000.
    max_usage_credits = 20

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.input_model = cast(type[ModelInputT], with_default_model(self.base_input_model, provider))

    async def call_model(
        self,
        ctx: ConnectorContext,
        model: str,
        *,
        system: str | None,
        prompt: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | None = None,
    ) -> AIMessage:
        """One chat call, `system` instructions then the user's `prompt`; every failure leaves as a
        connector error without the API key."""
        # Imported at the first model call, not with the catalog: LangChain and the provider SDKs
        # are slow to import, and a worker that runs no LLM step should not pay for them.
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

        from autofy.connectors.llm.chat_models import context_chat_model

        messages: list[BaseMessage] = [SystemMessage(system)] if system else []
        messages.append(HumanMessage(prompt))

        secrets = [str(ctx.credentials.get("api_key", ""))]
        async with (
            provider_errors(self.provider.display_name, secrets),
            context_chat_model(
                ctx,
                model=model or self.provider.default_model,
                temperature=temperature,
                max_tokens=max_tokens,
            ) as llm,
        ):
            runnable = llm.bind_tools(list(tools), tool_choice=tool_choice) if tools else llm
            answer = await runnable.ainvoke(messages)
        if not isinstance(answer, AIMessage):
            raise TransientError(f"{self.provider.display_name} answered with no message")
        return answer


def text_of(message: AIMessage) -> str:
    """The message's text, joined across content blocks (Anthropic and Gemini answer in blocks)."""
    return message.text.strip()
