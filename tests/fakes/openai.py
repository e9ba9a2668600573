"""A fake OpenAI API (also what OpenRouter and other OpenAI-compatible servers speak).

Implements `POST /v1/chat/completions` (JSON and server-sent events with `data: [DONE]`, tool
calls, usage incl. `stream_options.include_usage`), `GET /v1/models` and `POST /v1/embeddings`
(float or base64), with bearer-key auth and OpenAI's error shape.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.base import FakeServer
from tests.fakes.llm_script import (
    ForcedTool,
    ScriptedModel,
    ScriptedReply,
    hashed_embedding,
    mask_key,
    sse,
    text_chunks,
    usage_of,
)

OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
DEFAULT_EMBEDDING_DIMENSIONS = 1536


def _text_of_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class FakeOpenAI(FakeServer, ScriptedModel):
    provider = "openai"

    def __init__(self, api_key: str = "sk-test-openai-key", organization: str = "org-fake-autofy") -> None:
        self.api_key = api_key
        self.organization = organization
        self.models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]
        self._ids = itertools.count(1)
        self._init_script()
        super().__init__()

    @property
    def api_base(self) -> str:
        """What `configuration.api_base` is set to: OpenAI clients expect the `/v1` prefix."""
        return f"{self.url}/v1"

    def routes(self) -> list[Any]:
        return [
            Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
        ]

    def error_body(self, status: int, message: str) -> Any:
        error_type, code = OPENAI_ERROR_TYPES.get(status, ("server_error", None))
        return {"error": {"message": message, "type": error_type, "param": None, "code": code}}

    def chat_requests(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests_to("/chat/completions")]

    # --- handlers ----------------------------------------------------------------------------
    def _refused(self, request: Request) -> Response | None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if given == self.api_key:
            return None
        message = (
            f"Incorrect API key provided: {mask_key(given)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return JSONResponse(self.error_body(401, message), 401)

    def _headers(self) -> dict[str, str]:
        return {"openai-organization": self.organization, "x-request-id": f"req_{next(self._ids)}"}

    async def _models(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        data = [
            {"id": model, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for model in self.models
        ]
        return JSONResponse({"object": "list", "data": data}, headers=self._headers())

    async def _chat_completions(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        messages = body.get("messages", [])
        if not messages or "model" not in body:
            return JSONResponse(self.error_body(400, "'messages' and 'model' are required"), 400)
        prompt_texts = [_text_of_content(message.get("content")) for message in messages]
        user_texts = [_text_of_content(m.get("content")) for m in messages if m.get("role") == "user"]
        reply = self._next_reply(user_texts[-1] if user_texts else "", _forced_tool(body))
        input_tokens, output_tokens = usage_of(reply, prompt_texts)
        usage = {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        completion_id = f"chatcmpl-fake{next(self._ids)}"
        model = body["model"]
        tool_calls = [
            {
                "id": f"call_fake{next(self._ids)}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)[: reply.cut_at]},
            }
            for call in reply.tool_calls
        ]
        finish_reason = (
            reply.finish_reason if reply.cut_at is not None else "tool_calls" if tool_calls else "stop"
        )
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _stream(
                completion_id, model, reply, tool_calls, finish_reason, usage if include_usage else None
            )
            return StreamingResponse(events, media_type="text/event-stream", headers=self._headers())
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
                ],
                "usage": usage,
                "system_fingerprint": "fp_fake",
            },
            headers=self._headers(),
        )

    async def _embeddings(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        texts = _embedding_texts(body.get("input"))
        if not texts:
            return JSONResponse(self.error_body(400, "'input' must be text, tokens or a list of either"), 400)
        dimensions = int(body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS)
        data = []
        for index, text in enumerate(texts):
            vector = hashed_embedding(text, dimensions)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(text.split()) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers=self._headers(),
        )


def _embedding_texts(inputs: Any) -> list[str]:
    """The texts to embed; token arrays (what tiktoken-enabled clients send) read as their ids."""
    if isinstance(inputs, str):
        return [inputs]
    if isinstance(inputs, list) and inputs and all(isinstance(token, int) for token in inputs):
        return [" ".join(map(str, inputs))]
    if isinstance(inputs, list):
        texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in inputs]
        return texts if all(isinstance(item, str | list) for item in inputs) else []
    return []


def _forced_tool(body: dict[str, Any]) -> ForcedTool | None:
    """The tool the request forces (`tool_choice` naming one, or `required` with a single tool)."""
    tools = {tool["function"]["name"]: tool["function"] for tool in body.get("tools") or []}
    choice = body.get("tool_choice")
    name = None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
    elif choice == "required" and len(tools) == 1:
        name = next(iter(tools))
    if name is None or name not in tools:
        return None
    return ForcedTool(name, tools[name].get("parameters") or {})


async def _stream(
    completion_id: str,
    model: str,
    reply: ScriptedReply,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
    usage: dict[str, int] | None,
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            payload["usage"] = None
        return sse(payload)

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    if reply.text:
        for piece in text_chunks(reply.text):
            yield chunk({"content": piece})
    for index, call in enumerate(tool_calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 16):
            yield chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 16]}}]}
            )
    yield chunk({}, finish_reason)
    if usage is not None:
        yield sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": usage,
            }
        )
    yield sse("[DONE]")
