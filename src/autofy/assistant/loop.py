"""One assistant turn: a bounded tool-calling loop over a LangChain chat model.

The model is bound to the tools (`bind_tools`) and streamed, so a chat window sees tokens as they
come; each answer that calls tools gets the tools' results and another model call, at most
`MAX_MODEL_CALLS` times. Only the model calls are wrapped in `provider_errors`: a provider failure
leaves as a `ConnectorError` whose message holds no credential, while tools report their own
problems to the model as results.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable

from autofy.assistant.providers import ModelAccess
from autofy.assistant.tools import TOOLS, TurnState, run_tool, tool_result_text
from autofy.connectors.llm import provider_errors
from autofy.connectors.llm.chat_models import reused_chat_model
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.llm.usage import credits_for_usage, reported_model, token_usage

MAX_MODEL_CALLS = 8
MAX_OUTPUT_TOKENS = 2048
# An answer (text and tool arguments) longer than this is cut where it is, stored and shown with a
# note: a model that ignores max_tokens (or a proxy that lies) cannot fill the database.
MAX_ANSWER_CHARS = 32_000
# The most one turn may cost: the loop stops calling the model once reached, and the charge never
# exceeds it (chat.service charges min(usage, this)).
MAX_TURN_CREDITS = 40
TEMPERATURE = 0.2
OUT_OF_STEPS = (
    "I could not finish this within the steps I may take for one message. "
    "Could you narrow the request down (for example, one workflow at a time)?"
)
OUT_OF_CREDITS = (
    "I stopped here: this message reached the most credits one message may use. "
    "Could you narrow the request down (for example, one workflow at a time)?"
)
ANSWER_CUT_NOTE = f"\n\n[This answer was longer than {MAX_ANSWER_CHARS:,} characters and was cut.]"
# Finish reasons meaning "stopped at the output limit" (OpenAI, Anthropic, Gemini).
_CUT_OFF_REASONS = frozenset({"length", "max_tokens"})

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


@dataclass
class _Answer:
    message: AIMessageChunk
    # Stopped before its end: by the provider at the token limit, or here at MAX_ANSWER_CHARS.
    cut_off: bool
    oversized: bool


async def _streamed_answer(
    runnable: Runnable[Any, BaseMessage], messages: Sequence[BaseMessage], emit: Emit
) -> _Answer:
    answer: AIMessageChunk | None = None
    size = 0
    oversized = False
    async for chunk in runnable.astream(list(messages)):
        if not isinstance(chunk, AIMessageChunk):
            continue
        size += len(chunk.text) + sum(len(part.get("args") or "") for part in chunk.tool_call_chunks)
        if size > MAX_ANSWER_CHARS:
            oversized = True
            break  # leaving the stream closes the provider's connection
        if chunk.text:
            await emit("token", {"text": chunk.text})
        answer = chunk if answer is None else answer + chunk
    message = answer if answer is not None else AIMessageChunk(content="")
    metadata = message.response_metadata or {}
    reason = str(metadata.get("finish_reason") or metadata.get("stop_reason") or "").lower()
    return _Answer(message, oversized or reason in _CUT_OFF_REASONS, oversized)


async def run_turn(
    access: ModelAccess,
    system_prompt: str,
    history: Sequence[BaseMessage],
    state: TurnState,
    clients: ModelClients,
    *,
    emit: Emit = ignore_events,
) -> AssistantReply:
    """Answer the last message of `history` with the user's model (from `clients`, built once and
    reused across turns); raises `ConnectorError` when the provider fails."""
    provider = access.provider
    reply = AssistantReply(text="", model=access.model)
    messages: list[BaseMessage] = [SystemMessage(system_prompt), *history]
    started = time.perf_counter()
    async with AsyncExitStack() as resources:
        async with provider_errors(provider.display_name, access.secrets):
            llm: BaseChatModel = await resources.enter_async_context(
                reused_chat_model(
                    clients,
                    access.integration_id,
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
                streamed = await _streamed_answer(runnable, messages, emit)
            answer = streamed.message
            reply.model_calls += 1
            usage = token_usage(answer)
            reply.input_tokens += usage.input_tokens
            # A stream left early never reports its usage: charge what was read (4 characters a token).
            reply.output_tokens += usage.output_tokens or (MAX_ANSWER_CHARS // 4 if streamed.oversized else 0)
            reply.model = reported_model(answer, access.model)
            messages.append(answer)
            calls = checked_calls(answer, cut_off=streamed.cut_off)
            if not calls:
                reply.text = answer.text.strip()
                if streamed.oversized:
                    reply.text += ANSWER_CUT_NOTE
                    await emit("token", {"text": ANSWER_CUT_NOTE})
                break
            for call in calls:
                messages.append(await _run_call(state, call, reply, emit))
            if credits_for_usage(reply.input_tokens, reply.output_tokens) >= MAX_TURN_CREDITS:
                reply.text = OUT_OF_CREDITS
                break
        else:
            reply.text = OUT_OF_STEPS
    reply.latency_ms = round((time.perf_counter() - started) * 1000)
    return reply


def checked_calls(answer: AIMessageChunk, *, cut_off: bool) -> list[dict[str, Any]]:
    """The answer's tool calls, each with its arguments or the reason it must not run.

    LangChain repairs partial JSON while it merges a stream, so its parsed `args` cannot be trusted:
    the raw arguments are parsed again here. A call in an answer that was cut off is never run,
    whatever its arguments look like, since they may be complete-looking but truncated.
    """
    raw = {part.get("id") or part.get("index"): part.get("args") for part in answer.tool_call_chunks}
    calls: list[dict[str, Any]] = []
    for call in [*answer.tool_calls, *answer.invalid_tool_calls]:
        name, call_id = call.get("name") or "", call.get("id") or ""
        checked: dict[str, Any] = {"name": name, "id": call_id, "args": None}
        if cut_off:
            checked["error"] = (
                f"your answer was cut off (at the {MAX_OUTPUT_TOKENS}-token output limit) before this "
                "call was complete, so nothing was run; call it again with shorter arguments "
                "(fewer or shorter steps and texts)"
            )
        else:
            text = raw.get(call_id) if call_id in raw else call.get("args")
            checked |= _parsed_arguments(text)
        calls.append(checked)
    return calls


def _parsed_arguments(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return {"args": text}
    try:
        arguments = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        return {
            "error": f"the arguments are not valid JSON ({error.msg} at character {error.pos}); "
            "nothing was run: send the whole call again"
        }
    if not isinstance(arguments, dict):
        return {"error": "the arguments must be a JSON object; nothing was run"}
    return {"args": arguments}


async def _run_call(state: TurnState, call: Any, reply: AssistantReply, emit: Emit) -> ToolMessage:
    name = str(call.get("name") or "")
    arguments = call.get("args")
    await emit("tool_call", {"name": name, "arguments": arguments})
    if arguments is None:
        result: dict[str, Any] = {"error": call.get("error")}
    else:
        result = await run_tool(state, name, arguments)
    ok = "error" not in result and result.get("created", True) is not False
    reply.tool_calls.append({"name": name, "arguments": arguments, "ok": ok})
    await emit("tool_result", {"name": name, "ok": ok, "result": result})
    return ToolMessage(content=tool_result_text(result), tool_call_id=str(call.get("id") or ""), name=name)
