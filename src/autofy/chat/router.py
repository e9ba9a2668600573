"""HTTP routes of chat: sessions, messages (as JSON or as a server-sent-event stream), search."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse

from autofy.auth.dependencies import Principal, RequestMeta, UserSession, require
from autofy.chat import service
from autofy.chat.schemas import (
    ChatMessage,
    ChatSearchResults,
    ChatSession,
    ChatSessionCreate,
    ChatSessionPage,
    ChatSessionUpdate,
    ChatStatus,
    ChatTurn,
    MessageCreate,
)
from autofy.connectors.llm.clients import ModelClients
from autofy.db.engine import Database
from autofy.dependencies import Offset, get_database, get_model_clients, get_reservations_database
from autofy.errors import DomainError, error_body, error_responses
from autofy.integrations.router import Cipher, Policy

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])

Reader = Annotated[Principal, Depends(require("read"))]
Clients = Annotated[ModelClients, Depends(get_model_clients)]
Reservations = Annotated[Database, Depends(get_reservations_database)]
Writer = Annotated[Principal, Depends(require("write"))]


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=ChatSession)
async def create_session(
    body: ChatSessionCreate, principal: Writer, session: UserSession, meta: RequestMeta
) -> ChatSession:
    """Start a chat with the assistant."""
    return await service.create_session(session, principal.user_id, body, meta=meta)


@router.get("/sessions", response_model=ChatSessionPage)
async def list_sessions(
    principal: Reader,
    session: UserSession,
    status_filter: Annotated[ChatStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> ChatSessionPage:
    """Your chat sessions, most recently active first."""
    return await service.list_sessions(session, status=status_filter, limit=limit, offset=offset)


@router.get("/search", response_model=ChatSearchResults)
async def search(
    principal: Reader,
    session: UserSession,
    cipher: Cipher,
    policy: Policy,
    clients: Clients,
    reservations: Reservations,
    q: Annotated[str, Query(min_length=1, max_length=500, description="Words to look for.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> ChatSearchResults:
    """Search your own messages: full text, fused with semantic similarity when an embedding model
    is available (an OpenAI, OpenRouter or Gemini integration)."""
    context = service.TurnContext(cipher=cipher, policy=policy, clients=clients, reservations=reservations)
    return await service.search(session, context, principal.user_id, q, limit=limit)


@router.get("/sessions/{session_id}", response_model=ChatSession, responses=error_responses(404))
async def get_session(session_id: uuid.UUID, principal: Reader, session: UserSession) -> ChatSession:
    return await service.get_session(session, session_id)


@router.patch("/sessions/{session_id}", response_model=ChatSession, responses=error_responses(404))
async def update_session(
    session_id: uuid.UUID, body: ChatSessionUpdate, principal: Writer, session: UserSession, meta: RequestMeta
) -> ChatSession:
    """Rename a session, or close it with status `completed` or `abandoned` (`active` reopens it)."""
    return await service.update_session(session, principal.user_id, session_id, body, meta=meta)


@router.delete(
    "/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def delete_session(
    session_id: uuid.UUID, principal: Writer, session: UserSession, meta: RequestMeta
) -> None:
    """Delete a session and its messages; a draft workflow it created stays."""
    await service.delete_session(session, principal.user_id, session_id, meta=meta)


@router.get(
    "/sessions/{session_id}/messages", response_model=list[ChatMessage], responses=error_responses(404)
)
async def list_messages(
    session_id: uuid.UUID,
    principal: Reader,
    session: UserSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Offset = 0,
) -> list[ChatMessage]:
    """The session's messages, oldest first."""
    return await service.list_messages(session, session_id, limit=limit, offset=offset)


@router.post(
    "/sessions/{session_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatTurn,
    responses=error_responses(402, 404, 409),
)
async def post_message(
    session_id: uuid.UUID,
    body: MessageCreate,
    principal: Writer,
    session: UserSession,
    cipher: Cipher,
    policy: Policy,
    clients: Clients,
    reservations: Reservations,
    meta: RequestMeta,
) -> ChatTurn:
    """Send a message and get the assistant's answer. A provider failure is not an HTTP error: the
    turn is answered with an assistant message explaining it, and `error` is set."""
    context = service.TurnContext(
        cipher=cipher, policy=policy, clients=clients, reservations=reservations, meta=meta
    )
    return await service.post_message(session, principal.user_id, session_id, body.content, context)


def _event(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


@router.post(
    "/sessions/{session_id}/messages/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": (
                "Server-sent events: `user_message`, then `token` ({text}), `tool_call` ({name, "
                "arguments}) and `tool_result` ({name, ok, result}) as they happen, then `message` "
                "(the turn, as the JSON route returns it) or `error` ({error: {code, message}}), "
                "then `done`."
            ),
        },
        **error_responses(404),
    },
)
async def stream_message(
    session_id: uuid.UUID,
    body: MessageCreate,
    principal: Writer,
    session: UserSession,
    database: Annotated[Database, Depends(get_database)],
    cipher: Cipher,
    policy: Policy,
    clients: Clients,
    reservations: Reservations,
    meta: RequestMeta,
) -> StreamingResponse:
    """Send a message and watch the answer being written, for a chat window."""
    # An unknown session is a plain 404 before the stream starts.
    await service.get_session(session, session_id)
    context = service.TurnContext(
        cipher=cipher, policy=policy, clients=clients, reservations=reservations, meta=meta
    )
    events = turn_events(database, principal, session_id, body.content, context)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def turn_events(
    database: Database,
    principal: Principal,
    session_id: uuid.UUID,
    content: str,
    context: service.TurnContext,
) -> AsyncIterator[str]:
    """Run the turn in its own transaction (the response outlives the request's) and relay its
    events; the final `message` is sent once the turn is committed. The web's chat page streams
    the same events."""
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def emit(kind: str, data: dict[str, Any]) -> None:
        await queue.put(_event(kind, data))

    async def run() -> ChatTurn:
        # This generator is the edge of the turn's transaction: it commits here, or rolls back.
        async with database.user_session(principal.claims) as session:
            return await service.post_message(
                session, principal.user_id, session_id, content, context, emit=emit
            )

    task = asyncio.create_task(run())
    try:
        while not task.done() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        try:
            turn = task.result()
        except DomainError as error:
            yield _event("error", error_body(error.code, error.message, error.details))
        except Exception:
            logger.exception("chat turn of session %s failed", session_id)
            yield _event(
                "error", error_body("internal_error", "An unexpected error occurred; it has been logged.")
            )
        else:
            if turn.error is not None:
                yield _event("error", error_body(turn.error.code, turn.error.message))
            yield _event("message", turn.model_dump(mode="json"))
        yield _event("done", {})
    finally:
        if not task.done():
            task.cancel()
