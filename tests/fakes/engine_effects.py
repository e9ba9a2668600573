"""A web API whose calls are side effects the engine tests count: every POST to /effects/{key}
is one effect, answered with its sequence number. Failure switches come from FakeServer (500, 429
with Retry-After, slow); `/slow-effects/{key}` answers only after `hold` seconds (or when the test
opens `gate`), so a worker can be killed while a step is in flight."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeServer


class EngineEffects(FakeServer):
    provider = "engine-effects"

    def __init__(self, hold: float = 0.3) -> None:
        self.hold = hold
        # When a test sets it, `/slow-effects` answers wait for the test to set this event
        # instead of for `hold` seconds: a step stays in flight exactly as long as the test needs.
        self.gate: threading.Event | None = None
        self.effects: Counter[str] = Counter()
        self._effects_lock = threading.Lock()
        super().__init__()

    def routes(self) -> list[Any]:
        return [
            Route("/effects/{key:path}", self.effect, methods=["POST"]),
            Route("/slow-effects/{key:path}", self.slow_effect, methods=["POST"]),
        ]

    def _count(self, key: str) -> int:
        with self._effects_lock:
            self.effects[key] += 1
            return self.effects[key]

    async def effect(self, request: Request) -> Response:
        key = request.path_params["key"]
        return JSONResponse({"key": key, "seen": self._count(key), "body": await request.json()})

    async def slow_effect(self, request: Request) -> Response:
        key = request.path_params["key"]
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 120)
        else:
            await asyncio.sleep(self.hold)
        return JSONResponse({"key": key, "seen": self._count(key)})
