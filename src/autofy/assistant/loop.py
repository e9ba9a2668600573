"""One assistant turn: a bounded tool-calling loop over a LangChain chat model.

The model is bound to the tools (`bind_tools`) and streamed, so a chat window sees tokens as they
come; each answer that calls tools gets the tools' results and another model call, at most
`MAX_MODEL_CALLS` times. Only the model calls are wrapped in `provider_errors`: a provider failure
leaves as a `ConnectorError` whose message holds no credential, while tools report their own
problems to the model as results.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable

from autofy.assistant.providers import ModelAccess
from autofy.assistant.tools import TOOLS, TurnState, run_tool, tool_result_text
from autofy.connectors.llm import provider_errors
from autofy.connectors.llm.chat_models import opened_chat_model
from autofy.connectors.llm.usage import reported_model, token_usage

MAX_MODEL_CALLS = 8
MAX_OUTPUT_TOKENS = 2048
TEMPERATURE = 0.2
OUT_OF_STEPS = (
    "I could not finish this within the steps I may take for one message. "
    "Could you narrow the request down (for example, one workflow at a time)?"
)

EventKind = Literal["user_message", "token", "tool_call", "tool_result"]
Emit = Callable[[EventKind, dict[str, Any]], Awaitable[None]]


async def ignore_events(kind: EventKind, data: dict[str, Any]) -> None:
    return None


@dataclass
class AssistantReply:
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0
    latency_ms: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


async def _streamed_answer(
    runnable: Runnable[Any, BaseMessage], messages: Sequence[BaseMessage], emit: Emit
) -> AIMessageChunk:
    answer: AIMessageChunk | None = None
    async for chunk in runnable.astream(list(messages)):
        if not isinstance(chunk, AIMessageChunk):
            continue
        if chunk.text:
            await emit("token", {"text": chunk.text})
        answer = chunk if answer is None else answer + chunk
    return answer if answer is not None else AIMessageChunk(content="")


async def run_turn(
    access: ModelAccess,
    system_prompt: str,
    history: Sequence[BaseMessage],
    state: TurnState,
    *,
    emit: Emit = ignore_events,
) -> AssistantReply:
    """Answer the last message of `history`; raises `ConnectorError` when the provider fails."""
    provider = access.provider
    reply = AssistantReply(text="", model=access.model)
    messages: list[BaseMessage] = [SystemMessage(system_prompt), *history]
    started = time.perf_counter()
    async with AsyncExitStack() as resources:
        async with provider_errors(provider.display_name, access.secrets):
            llm: BaseChatModel = await resources.enter_async_context(
                opened_chat_model(
                    provider.service_name,
                    access.credentials,
                    access.configuration,
                    policy=state.policy,
                    model=access.model,
                    temperature=TEMPERATURE,
                    max_tokens=MAX_OUTPUT_TOKENS,
                )
            )
        runnable = llm.bind_tools([tool.schema() for tool in TOOLS])
        for _ in range(MAX_MODEL_CALLS):
            async with provider_errors(provider.display_name, access.secrets):
                answer = await _streamed_answer(runnable, messages, emit)
            reply.model_calls += 1
            usage = token_usage(answer)
            reply.input_tokens += usage.input_tokens
            reply.output_tokens += usage.output_tokens
            reply.model = reported_model(answer, access.model)
            messages.append(answer)
            calls = [*answer.tool_calls, *_invalid_calls(answer)]
            if not calls:
                reply.text = answer.text.strip()
                break
            for call in calls:
                messages.append(await _run_call(state, call, reply, emit))
        else:
            reply.text = OUT_OF_STEPS
    reply.latency_ms = round((time.perf_counter() - started) * 1000)
    return reply


def _invalid_calls(answer: AIMessage) -> list[dict[str, Any]]:
    """Tool calls whose arguments were not JSON: answered with an error so the model can retry."""
    return [
        {"name": call.get("name") or "", "args": None, "id": call.get("id") or "", "error": call.get("error")}
        for call in answer.invalid_tool_calls
    ]


async def _run_call(state: TurnState, call: Any, reply: AssistantReply, emit: Emit) -> ToolMessage:
    name = str(call.get("name") or "")
    arguments = call.get("args")
    await emit("tool_call", {"name": name, "arguments": arguments})
    if arguments is None:
        result: dict[str, Any] = {"error": f"the arguments were not valid JSON: {call.get('error')}"}
    else:
        result = await run_tool(state, name, arguments)
    ok = "error" not in result and result.get("created", True) is not False
    reply.tool_calls.append({"name": name, "arguments": arguments, "ok": ok})
    await emit("tool_result", {"name": name, "ok": ok, "result": result})
    return ToolMessage(content=tool_result_text(result), tool_call_id=str(call.get("id") or ""), name=name)
