"""The API server's start-up."""

from __future__ import annotations

import asyncio
import gc
import socket

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autofy.server import _ApiServer


async def _frozen_objects(_: Request) -> JSONResponse:
    return JSONResponse({"frozen": gc.get_freeze_count()})


async def test_the_api_server_keeps_what_its_start_up_built_out_of_the_collectors_reach() -> None:
    gc.unfreeze()  # an earlier test's worker may have frozen this process already
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    app = Starlette(routes=[Route("/frozen", _frozen_objects)])
    server = _ApiServer(uvicorn.Config(app, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        # The socket already listens: the request waits in its backlog until the server serves.
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/frozen")
        # Full collections under load no longer walk the app, its routes and modules: each one
        # was a pause of the event loop that every request in flight waited out.
        assert answer.json()["frozen"] > 0
    finally:
        server.should_exit = True
        await serving
        listener.close()
        gc.unfreeze()
