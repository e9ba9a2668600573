"""What the fake LLM servers share: scripted model turns, deterministic defaults, embeddings.

Tests push replies (plain text, tool calls, JSON) that the fake serves in order, whatever the
request; when none is queued the fake answers deterministically from the request: a forced tool
call gets arguments built from the tool's schema, anything else gets an echo of the last user
text. Token counts are words, so usage is predictable.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REPLY_PREFIX = "Fake reply to: "


@dataclass
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ScriptedReply:
    text: str = ""
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    # Override the word-count usage, e.g. to test credit charging on large numbers.
    input_tokens: int | None = None
    output_tokens: int | None = None
    # A reply the model's output limit cut: tool arguments end after this many characters and the
    # finish reason says so (`length`).
    cut_at: int | None = None
    finish_reason: str = "length"


@dataclass
class ForcedTool:
    name: str
    parameters: dict[str, Any]


class ScriptedModel:
    """Mixin for fake LLM servers: the reply queue and the deterministic default reply."""

    def _init_script(self) -> None:
        self._replies: deque[ScriptedReply] = deque()
        self._script_lock = threading.Lock()

    def reply_text(
        self, text: str, *, input_tokens: int | None = None, output_tokens: int | None = None
    ) -> None:
        self._queue(ScriptedReply(text=text, input_tokens=input_tokens, output_tokens=output_tokens))

    def reply_json(self, value: Any) -> None:
        """A reply whose text is `value` as JSON (a model answering structured output as text)."""
        self._queue(ScriptedReply(text=json.dumps(value)))

    def reply_tool_call(self, name: str, arguments: dict[str, Any], *, text: str = "") -> None:
        self.reply_tool_calls([ScriptedToolCall(name, arguments)], text=text)

    def reply_tool_calls(self, calls: list[ScriptedToolCall], *, text: str = "") -> None:
        self._queue(ScriptedReply(text=text, tool_calls=list(calls)))

    def reply_cut_tool_call(
        self, name: str, arguments: dict[str, Any], *, cut_at: int, finish_reason: str = "length"
    ) -> None:
        """A tool call whose arguments end after `cut_at` characters: cut by the output limit, or
        (another `finish_reason`) a model that sent broken JSON."""
        call = ScriptedToolCall(name, arguments)
        self._queue(ScriptedReply(tool_calls=[call], cut_at=cut_at, finish_reason=finish_reason))

    def pending_replies(self) -> int:
        with self._script_lock:
            return len(self._replies)

    def _queue(self, reply: ScriptedReply) -> None:
        with self._script_lock:
            self._replies.append(reply)

    def _next_reply(self, last_user_text: str, forced_tool: ForcedTool | None) -> ScriptedReply:
        with self._script_lock:
            if self._replies:
                return self._replies.popleft()
        if forced_tool is not None:
            return ScriptedReply(
                tool_calls=[ScriptedToolCall(forced_tool.name, example_from_schema(forced_tool.parameters))]
            )
        return ScriptedReply(text=f"{DEFAULT_REPLY_PREFIX}{last_user_text[:200]}")


def count_tokens(*texts: str) -> int:
    return sum(len(text.split()) for text in texts)


def usage_of(reply: ScriptedReply, prompt_texts: list[str]) -> tuple[int, int]:
    """(input, output) tokens: the scripted numbers, else words in the prompt and the answer."""
    output_texts = [reply.text] + [json.dumps(call.arguments) for call in reply.tool_calls]
    input_tokens = reply.input_tokens if reply.input_tokens is not None else count_tokens(*prompt_texts)
    output_tokens = reply.output_tokens if reply.output_tokens is not None else count_tokens(*output_texts)
    return input_tokens, output_tokens


def example_from_schema(schema: dict[str, Any]) -> Any:
    """A small value valid for common JSON schemas: what a default forced tool call carries."""
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return example_from_schema(schema[combinator][0])
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower()
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_from_schema(sub) for name, sub in properties.items()}
    if kind == "array":
        return [example_from_schema(schema.get("items", {"type": "string"}))]
    if kind in ("number", "integer"):
        return max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def text_chunks(text: str, size: int = 3) -> list[str]:
    """Split `text` into pieces of a few words, keeping spaces, as a streaming model sends it."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [piece + (" " if i < len(pieces) - 1 else "") for i, piece in enumerate(pieces)] or [""]


def hashed_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector from the text's words: texts sharing words point alike."""
    vector = [0.0] * dimensions
    for word in text.lower().split():
        digest = hashlib.sha256(word.strip(".,;:!?\"'()").encode()).digest()
        index = int.from_bytes(digest[:4], "big") % dimensions
        vector[index] += 1.0 if digest[4] % 2 == 0 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [value / norm for value in vector]


def sse(data: Any, event: str | None = None) -> str:
    prefix = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{prefix}data: {payload}\n\n"


def mask_key(key: str) -> str:
    """How providers echo a wrong key back: only its edges."""
    return f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
