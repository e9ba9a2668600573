"""A web server for the HTTP request step: echoes requests, answers with chosen statuses, redirects,
plain text, large bodies. Also a bare TCP listener that only counts connections, to prove the
outbound guard refused a destination before connecting."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeServer

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class HttpEcho(FakeServer):
    provider = "http-echo"

    def routes(self) -> list[Any]:
        return [
            Route("/echo", self.echo, methods=ALL_METHODS),
            Route("/status/{code:int}", self.status, methods=ALL_METHODS),
            Route("/text", self.text),
            Route("/mislabelled-json", self.mislabelled_json),
            Route("/redirect", self.redirect),
            Route("/bounce/{rest:path}", self.bounce, methods=ALL_METHODS),
            Route("/bytes/{count:int}", self.sized),
        ]

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
        )

    async def status(self, request: Request) -> Response:
        code = int(request.path_params["code"])
        headers = (
            {"Retry-After": request.query_params["retry_after"]}
            if "retry_after" in request.query_params
            else {}
        )
        return JSONResponse({"error": f"simulated {code}"}, code, headers=headers)

    async def text(self, request: Request) -> Response:
        return PlainTextResponse("hello, plain text")

    async def mislabelled_json(self, request: Request) -> Response:
        return Response("not json at all", media_type="application/json")

    async def redirect(self, request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    # Where `/bounce/<rest>` sends every method, keeping `<rest>` and the query: a base URL whose
    # every call is redirected, as a public server of an attacker's would answer.
    bounce_to = "http://127.0.0.1:9"

    async def bounce(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{self.bounce_to}/{request.path_params['rest']}{query}", status_code=307)

    async def sized(self, request: Request) -> Response:
        return Response(b"x" * int(request.path_params["count"]), media_type="application/octet-stream")


class ConnectionCounter:
    """A plain TCP listener that never answers: the kernel completes connections into its backlog,
    and `connections()` counts them, so a test can prove that nothing connected."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        if host == "::":  # every address of this machine, IPv4 ones included, on one port
            self._socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self._socket.bind((host, 0))
        self._socket.listen(64)
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        self._accepted = 0

    def connections(self) -> int:
        while True:
            try:
                connection, _ = self._socket.accept()
            except BlockingIOError:
                return self._accepted
            self._accepted += 1
            connection.close()

    @contextmanager
    def running(self) -> Iterator[ConnectionCounter]:
        try:
            yield self
        finally:
            self._socket.close()
