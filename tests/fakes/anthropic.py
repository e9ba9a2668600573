"""A fake Anthropic API: `POST /v1/messages` (JSON and the streaming event sequence) and
`GET /v1/models`, with Anthropic's error shape.

The key comes in `x-api-key` (as the API reference documents) or as `Authorization: Bearer`
(what the installed anthropic SDK sends); `anthropic-version` is required.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.base import FakeServer
from tests.fakes.llm_script import ForcedTool, ScriptedModel, sse, text_chunks, usage_of

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _block_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts = []
    for block in content or []:
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            texts.extend(_block_texts(block.get("content")))
    return texts


class FakeAnthropic(FakeServer, ScriptedModel):
    provider = "anthropic"

    def __init__(
        self,
        api_key: str = "sk-ant-test-anthropic-key",
        organization_id: str = "5f0c1a8e-fake-4c1e-9d2a-autofy000001",
    ) -> None:
        self.api_key = api_key
        self.organization_id = organization_id
        self.models = [
            "claude-3-5-haiku-20241022",
            "claude-3-5-sonnet-20241022",
            "claude-3-7-sonnet-20250219",
        ]
        self._ids = itertools.count(1)
        self._init_script()
        super().__init__()

    @property
    def api_base(self) -> str:
        """What `configuration.api_base` is set to: Anthropic clients add `/v1/...` themselves."""
        return self.url

    def routes(self) -> list[Any]:
        return [
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    def error_body(self, status: int, message: str) -> Any:
        error_type = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": error_type, "message": message}}

    def message_requests(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests_to("/v1/messages")]

    def _refused(self, request: Request) -> Response | None:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.api_key not in (request.headers.get("x-api-key"), bearer):
            return JSONResponse(self.error_body(401, "invalid x-api-key"), 401, headers=self._headers())
        if not request.headers.get("anthropic-version"):
            return JSONResponse(
                self.error_body(400, "anthropic-version: header is required"), 400, headers=self._headers()
            )
        return None

    def _headers(self) -> dict[str, str]:
        return {"anthropic-organization-id": self.organization_id, "request-id": f"req_fake{next(self._ids)}"}

    async def _models(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        data = [
            {"type": "model", "id": model, "display_name": model, "created_at": "2024-10-22T00:00:00Z"}
            for model in self.models
        ]
        return JSONResponse(
            {"data": data, "has_more": False, "first_id": self.models[0], "last_id": self.models[-1]},
            headers=self._headers(),
        )

    async def _messages(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        for required in ("model", "max_tokens", "messages"):
            if required not in body:
                return JSONResponse(self.error_body(400, f"{required}: Field required"), 400)
        system = body.get("system")
        prompt_texts = _block_texts(system) if system else []
        user_texts: list[str] = []
        for message in body["messages"]:
            texts = _block_texts(message.get("content"))
            prompt_texts.extend(texts)
            if message.get("role") == "user" and texts:
                user_texts = texts
        reply = self._next_reply(" ".join(user_texts), _forced_tool(body))
        input_tokens, output_tokens = usage_of(reply, prompt_texts)
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        content.extend(
            {
                "type": "tool_use",
                "id": f"toolu_fake{next(self._ids)}",
                "name": call.name,
                "input": call.arguments,
            }
            for call in reply.tool_calls
        )
        message = {
            "id": f"msg_fake{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
        if body.get("stream"):
            return StreamingResponse(
                _stream(message), media_type="text/event-stream", headers=self._headers()
            )
        return JSONResponse(message, headers=self._headers())


def _forced_tool(body: dict[str, Any]) -> ForcedTool | None:
    tools = {tool["name"]: tool for tool in body.get("tools") or [] if "name" in tool}
    choice = body.get("tool_choice") or {}
    name = None
    if choice.get("type") == "tool":
        name = choice.get("name")
    elif choice.get("type") == "any" and len(tools) == 1:
        name = next(iter(tools))
    if name is None or name not in tools:
        return None
    return ForcedTool(name, tools[name].get("input_schema") or {})


async def _stream(message: dict[str, Any]) -> AsyncIterator[str]:
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
    }
    yield sse({"type": "message_start", "message": start}, "message_start")
    yield sse({"type": "ping"}, "ping")
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
            for piece in text_chunks(block["text"]):
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
        else:
            yield sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
                "content_block_start",
            )
            arguments = json.dumps(block["input"])
            for offset in range(0, len(arguments), 16):
                yield sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": arguments[offset : offset + 16],
                        },
                    },
                    "content_block_delta",
                )
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    yield sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            # The cumulative usage, input included, as the API reports it at the end of a stream.
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"]},
        },
        "message_delta",
    )
    yield sse({"type": "message_stop"}, "message_stop")
