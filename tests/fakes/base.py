"""Fake third-party servers: real HTTP servers on loopback that speak a provider's API.

Each fake is an ASGI app served by uvicorn in a background thread on a free port. It records every
request it receives (so tests assert what Autofy sent) and has switches for the failures real
providers produce: an error status with the provider's own error body, 429 with Retry-After, a
slow answer, or a malformed body.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    # The caller's TCP port: one per connection, so distinct ports count the connections opened.
    client_port: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Failure:
    """One planned failure: served for the next `times` matching requests."""

    kind: str  # "status" | "slow" | "malformed"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    path_contains: str = ""


class FakeServer:
    """Base for fakes. Subclasses build `self.app` routes in `routes()`."""

    provider = "fake"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=self.routes())
        self.app.add_middleware(BaseHTTPMiddleware, dispatch=self._middleware)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # Subclasses ---------------------------------------------------------------------------------
    def routes(self) -> list[Any]:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        """The provider's own error shape for `status`."""
        return {"error": {"code": status, "message": message}}

    # Failure switches ---------------------------------------------------------------------------
    def fail(
        self,
        status: int,
        message: str = "simulated failure",
        *,
        times: int = 1,
        retry_after: float | None = None,
        path_contains: str = "",
        body: Any = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._add(
            Failure(
                "status",
                status=status,
                body=body if body is not None else self.error_body(status, message),
                headers=headers,
                times=times,
                path_contains=path_contains,
            )
        )

    def slow(self, seconds: float, *, times: int = 1, path_contains: str = "") -> None:
        self._add(Failure("slow", delay=seconds, times=times, path_contains=path_contains))

    def malformed(self, *, times: int = 1, path_contains: str = "") -> None:
        self._add(Failure("malformed", times=times, path_contains=path_contains))

    def _add(self, failure: Failure) -> None:
        with self._lock:
            self._failures.append(failure)

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path_contains in path:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def requests_to(self, path_contains: str) -> list[RecordedRequest]:
        return [r for r in self.requests if path_contains in r.path]

    def open_connections(self) -> int:
        """How many connections to this server are open right now, as the server sees them."""
        if self._server is None:
            return 0
        return len(self._server.server_state.connections)

    def connections_to(self, path_contains: str) -> int:
        """How many TCP connections the requests to `path_contains` came over."""
        return len({r.client_port for r in self.requests_to(path_contains)})

    async def _middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        body = await request.body()
        self.requests.append(
            RecordedRequest(
                request.method,
                request.url.path,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                body,
                request.client.port if request.client else None,
            )
        )
        failure = self._take_failure(request.url.path)
        if failure is not None:
            if failure.kind == "slow":
                await asyncio.sleep(failure.delay)
            elif failure.kind == "malformed":
                return Response(b"<html>502 Bad Gateway</html>{", 200, media_type="application/json")
            else:
                return Response(
                    json.dumps(failure.body),
                    failure.status,
                    headers=failure.headers,
                    media_type="application/json",
                )
        return await call_next(request)

    # Lifecycle ----------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
