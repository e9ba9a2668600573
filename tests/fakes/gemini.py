"""A fake Gemini Developer API (`/v1beta`, also `/v1`): `models/{model}:generateContent`,
`:streamGenerateContent?alt=sse`, the `models` list, `:embedContent` and `:batchEmbedContents`.

The key comes in the `x-goog-api-key` header or the `key` query parameter; a wrong key gets what
Google really answers, 400 INVALID_ARGUMENT with reason API_KEY_INVALID, in Google's error shape.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.base import FakeServer
from tests.fakes.llm_script import (
    ForcedTool,
    ScriptedModel,
    hashed_embedding,
    sse,
    text_chunks,
    usage_of,
)

GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
DEFAULT_EMBEDDING_DIMENSIONS = 768


def _part_texts(content: dict[str, Any] | None) -> list[str]:
    return [str(part["text"]) for part in (content or {}).get("parts", []) if "text" in part]


class FakeGemini(FakeServer, ScriptedModel):
    provider = "gemini"

    def __init__(self, api_key: str = "AIza-test-gemini-key") -> None:
        self.api_key = api_key
        self.models = {
            "gemini-2.0-flash": ["generateContent", "countTokens"],
            "gemini-1.5-pro": ["generateContent", "countTokens"],
            "text-embedding-004": ["embedContent"],
        }
        self._ids = itertools.count(1)
        self._init_script()
        super().__init__()

    @property
    def api_base(self) -> str:
        """What `configuration.api_base` is set to: the client adds `/v1beta/...` itself."""
        return self.url

    def routes(self) -> list[Any]:
        return [
            Route("/{version:str}/models", self._list_models, methods=["GET"]),
            Route("/{version:str}/models/{target:path}", self._model_method, methods=["POST"]),
        ]

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {"code": status, "message": message, "status": GOOGLE_STATUSES.get(status, "UNKNOWN")}
        }

    def generate_requests(self) -> list[dict[str, Any]]:
        return [request.json() for request in self.requests if "generatecontent" in request.path.lower()]

    def _refused(self, request: Request) -> Response | None:
        given = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if given == self.api_key:
            return None
        body = self.error_body(400, "API key not valid. Please pass a valid API key.")
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
        return JSONResponse(body, 400)

    async def _list_models(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        models = [
            {
                "name": f"models/{name}",
                "version": "001",
                "displayName": name,
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 8192,
                "supportedGenerationMethods": methods,
            }
            for name, methods in self.models.items()
        ]
        return JSONResponse({"models": models})

    async def _model_method(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        model, _, method = request.path_params["target"].rpartition(":")
        body = await request.json()
        if method == "generateContent":
            return JSONResponse(self._generate(model, body))
        if method == "streamGenerateContent":
            return StreamingResponse(self._stream(model, body), media_type="text/event-stream")
        if method == "embedContent":
            return JSONResponse({"embedding": _embedding(body)})
        if method == "batchEmbedContents":
            return JSONResponse({"embeddings": [_embedding(item) for item in body.get("requests", [])]})
        return JSONResponse(self.error_body(404, f"Method {method!r} not found for {model!r}"), 404)

    def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        prompt_texts = _part_texts(body.get("systemInstruction"))
        user_texts: list[str] = []
        for content in body.get("contents", []):
            texts = _part_texts(content)
            prompt_texts.extend(texts)
            if content.get("role", "user") == "user" and texts:
                user_texts = texts
        reply = self._next_reply(" ".join(user_texts), _forced_tool(body))
        input_tokens, output_tokens = usage_of(reply, prompt_texts)
        parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
        parts.extend(
            {"functionCall": {"name": call.name, "args": call.arguments}} for call in reply.tool_calls
        )
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": input_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": input_tokens + output_tokens,
            },
            "modelVersion": model,
            "responseId": f"fake-response-{next(self._ids)}",
        }

    async def _stream(self, model: str, body: dict[str, Any]) -> AsyncIterator[str]:
        # Gemini streams whole responses, each with a slice of the text; the last one says why it
        # stopped and every one carries the usage so far.
        response = self._generate(model, body)
        candidate = response["candidates"][0]
        parts = candidate["content"]["parts"]
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part:
                pieces.extend({"text": piece} for piece in text_chunks(part["text"]))
            else:
                pieces.append(part)
        for number, piece in enumerate(pieces or [{"text": ""}]):
            chunk_candidate: dict[str, Any] = {"content": {"role": "model", "parts": [piece]}, "index": 0}
            if number == len(pieces) - 1 or not pieces:
                chunk_candidate["finishReason"] = "STOP"
            yield sse(
                {
                    "candidates": [chunk_candidate],
                    "usageMetadata": response["usageMetadata"],
                    "modelVersion": model,
                    "responseId": response["responseId"],
                }
            )


def _forced_tool(body: dict[str, Any]) -> ForcedTool | None:
    declarations = {
        declaration["name"]: declaration
        for tool in body.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    }
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") != "ANY":
        return None
    allowed = config.get("allowedFunctionNames") or list(declarations)
    if len(allowed) != 1 or allowed[0] not in declarations:
        return None
    declaration = declarations[allowed[0]]
    return ForcedTool(
        allowed[0], declaration.get("parameters") or declaration.get("parametersJsonSchema") or {}
    )


def _embedding(request: dict[str, Any]) -> dict[str, list[float]]:
    text = " ".join(_part_texts(request.get("content")))
    dimensions = int(request.get("outputDimensionality") or DEFAULT_EMBEDDING_DIMENSIONS)
    return {"values": hashed_embedding(text, dimensions)}
