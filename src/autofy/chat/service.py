"""The rules of chat: sessions, messages, one assistant turn per message, and search.

A turn runs in the caller's transaction, all or nothing: the user's message, the assistant's
answer, the draft workflow its tools created, the session's new state and the credits charged are
committed together (only the turn's credit reservation, taken before the model is called, commits
on its own: see `_reserve_turn`). The assistant's part runs in a savepoint: when the provider fails (401, 429,
5xx, timeout), everything the turn's tools did is rolled back (no draft survives a failed turn) and
the answer is an assistant message explaining the failure, with `metadata.error`.

Without an LLM integration, the answer says what to connect and offers matching workflow
templates, without any model call. Embeddings of the new messages are computed after the answer
is delivered, by a queued job (`chat.jobs`), and a failure to embed never fails the chat.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from sqlalchemy import RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.assistant.embeddings import embed
from autofy.assistant.intent import classify_intent
from autofy.assistant.loop import MAX_TURN_CREDITS, AssistantReply, Emit, ignore_events, run_turn
from autofy.assistant.prompt import system_prompt
from autofy.assistant.providers import ModelAccess, embedding_access, model_access
from autofy.assistant.tools import TurnState, missing_integrations
from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.chat import jobs, repository
from autofy.chat.schemas import (
    ChatMessage,
    ChatSearchHit,
    ChatSearchResults,
    ChatSession,
    ChatSessionCreate,
    ChatSessionPage,
    ChatSessionUpdate,
    ChatTurn,
    MissingIntegration,
    TemplateSuggestion,
    TurnError,
)
from autofy.connectors.llm import PROVIDERS
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.llm.usage import credits_for_usage
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.sdk import AuthenticationError, ConnectorError, TransientError
from autofy.credits import service as credits
from autofy.db.engine import Database, as_service_role
from autofy.engine.queue import raw_connection
from autofy.errors import ConflictError, NotFoundError
from autofy.integrations import repository as integrations_repository
from autofy.security.crypto import CredentialCipher
from autofy.security.secrets import PLACEHOLDER, mask_credentials, where_credentials_go
from autofy.workflows.schemas import WorkflowSummary

logger = logging.getLogger(__name__)

# How many earlier messages the model sees: enough for a conversation, bounded in tokens.
HISTORY_MESSAGES = 30
SESSION_NAME_LENGTH = 60
SUGGESTED_TEMPLATES = 3
# Full-text and vector candidates fused per search; k of reciprocal rank fusion (Cormack et al.).
SEARCH_CANDIDATES = 50
RRF_K = 60
# Nearest neighbours below this cosine similarity are unrelated, not "less relevant".
MIN_SIMILARITY = 0.3
_TEMPLATE_WORD = re.compile(r"[a-z0-9]{4,}")
# A turn's reservation lapses after this if the turn never settles it (its transaction rolled
# back): longer than any turn may take (MAX_MODEL_CALLS calls within their timeouts).
TURN_RESERVATION_LIFETIME = timedelta(minutes=15)


class ChatSessionNotFound(NotFoundError):
    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(f"Chat session {session_id} does not exist.")


class ChatSessionClosed(ConflictError):
    def __init__(self, status: str) -> None:
        super().__init__(
            f"This chat session is {status}; reopen it (PATCH status=active) or start a new one."
        )


# --- sessions -----------------------------------------------------------------------------------


def _session(row: RowMapping) -> ChatSession:
    return ChatSession.model_validate(dict(row))


def _message(row: RowMapping) -> ChatMessage:
    return ChatMessage.model_validate({**row, "metadata": row["metadata"] or {}})


async def _load(session: AsyncSession, session_id: uuid.UUID, *, lock: bool = False) -> RowMapping:
    row = await repository.get_session(session, session_id, lock=lock)
    if row is None:
        raise ChatSessionNotFound(session_id)
    return row


async def create_session(
    session: AsyncSession, user_id: uuid.UUID, body: ChatSessionCreate, *, meta: RequestInfo | None = None
) -> ChatSession:
    row = await repository.insert_session(
        session,
        {"user_id": user_id, "session_name": body.session_name, "intent": body.intent, "status": "active"},
    )
    await audit.record(
        session,
        user_id=user_id,
        action="chat_session.create",
        resource_type="chat_session",
        resource_id=row["id"],
        details={"intent": body.intent},
        meta=meta,
    )
    return _session(row)


async def list_sessions(
    session: AsyncSession, *, status: str | None, limit: int, offset: int
) -> ChatSessionPage:
    rows, total = await repository.list_sessions(session, status=status, limit=limit, offset=offset)
    return ChatSessionPage(items=[_session(row) for row in rows], total=total, limit=limit, offset=offset)


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> ChatSession:
    return _session(await _load(session, session_id))


async def update_session(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    changes: ChatSessionUpdate,
    *,
    meta: RequestInfo | None = None,
) -> ChatSession:
    current = await _load(session, session_id, lock=True)
    values = changes.model_dump(exclude_unset=True, exclude_none=True)
    if not values:
        return _session(current)
    row = await repository.update_session(session, session_id, values)
    action = (
        "chat_session.close" if values.get("status") in {"completed", "abandoned"} else "chat_session.update"
    )
    await audit.record(
        session,
        user_id=user_id,
        action=action,
        resource_type="chat_session",
        resource_id=session_id,
        details={"fields": sorted(values), "status": row["status"]},
        meta=meta,
    )
    return _session(row)


async def delete_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, *, meta: RequestInfo | None = None
) -> None:
    """Delete a session and its messages. A draft workflow it created stays (unlinked from it)."""
    current = await _load(session, session_id, lock=True)
    await repository.delete_session(session, session_id)
    await audit.record(
        session,
        user_id=user_id,
        action="chat_session.delete",
        resource_type="chat_session",
        resource_id=session_id,
        details={"session_name": current["session_name"]},
        meta=meta,
    )


async def list_messages(
    session: AsyncSession, session_id: uuid.UUID, *, limit: int, offset: int
) -> list[ChatMessage]:
    await _load(session, session_id)
    return [
        _message(row)
        for row in await repository.list_messages(session, session_id, limit=limit, offset=offset)
    ]


# --- a turn -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnContext:
    """What a turn needs besides the transaction: to decrypt keys, to reach out (through the
    process's reused model clients), to audit."""

    cipher: CredentialCipher
    policy: OutboundPolicy
    clients: ModelClients
    # Where a turn's credit reservation is committed at once, apart from the turn's transaction.
    reservations: Database
    meta: RequestInfo | None = None


def _history(rows: Sequence[RowMapping]) -> list[BaseMessage]:
    """The conversation as the model sees it; failed turns' error notes are not the model's words."""
    history: list[BaseMessage] = []
    for row in rows:
        if row["role"] == "user":
            history.append(HumanMessage(row["content"]))
        elif row["role"] == "assistant" and "error" not in (row["metadata"] or {}):
            history.append(AIMessage(row["content"]))
    return history


def _turn_error(error: ConnectorError, provider: str) -> TurnError:
    if isinstance(error, AuthenticationError):
        return TurnError(
            code="provider_auth_failed",
            provider=provider,
            status_code=error.status_code,
            message=(
                f"{provider} refused your integration's API key ({error.message}). "
                "Check or replace the key under Integrations, then send your message again."
            ),
        )
    if isinstance(error, TransientError) and error.status_code == 429:
        return TurnError(
            code="provider_rate_limited",
            provider=provider,
            status_code=429,
            message=(
                f"{provider} is limiting requests right now ({error.message}). "
                "Wait a moment and send your message again."
            ),
        )
    if isinstance(error, TransientError):
        return TurnError(
            code="provider_unavailable",
            provider=provider,
            status_code=error.status_code,
            message=f"{provider} is not answering right now ({error.message}). Try again in a moment.",
        )
    return TurnError(
        code="provider_failed",
        provider=provider,
        status_code=error.status_code,
        message=f"The request to {provider} failed: {error.message}",
    )


async def _suggested_templates(session: AsyncSession, text: str) -> list[TemplateSuggestion]:
    words = sorted(set(_TEMPLATE_WORD.findall(text.lower())))
    rows = await repository.find_templates(session, words, limit=SUGGESTED_TEMPLATES)
    if not rows:
        rows = await repository.featured_templates(session, limit=SUGGESTED_TEMPLATES)
    return [
        TemplateSuggestion.model_validate(
            {**row, "required_integrations": list(row["required_integrations"] or [])}
        )
        for row in rows
    ]


@dataclass(frozen=True)
class _Fallback:
    text: str
    metadata: dict[str, Any]
    templates: list[TemplateSuggestion]
    missing: list[MissingIntegration]


async def _answer_without_model(session: AsyncSession, text: str) -> _Fallback:
    """What to connect, and templates matching the request: no model is called."""
    templates = await _suggested_templates(session, text)
    providers = await missing_integrations(session, set(PROVIDERS))
    lines = [
        "To chat with the assistant, connect an AI provider first: "
        + ", ".join(item.display_name for item in providers)
        + " (under Integrations, with your own API key).",
    ]
    if templates:
        lines.append("Meanwhile, these templates may do what you want:")
        lines += [f"- {template.name}: {template.description or ''}".rstrip(": ") for template in templates]
    metadata = {"provider": None, "reason": "no_llm_integration", "templates": [str(t.id) for t in templates]}
    return _Fallback("\n".join(lines), metadata, templates, providers)


def _reply_metadata(access: ModelAccess, reply: AssistantReply, state: TurnState) -> dict[str, Any]:
    charged = min(credits_for_usage(reply.input_tokens, reply.output_tokens), MAX_TURN_CREDITS)
    metadata: dict[str, Any] = {
        "provider": access.provider.service_name,
        "model": reply.model,
        "usage": {
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "credits": charged,
        },
        "latency_ms": reply.latency_ms,
        "model_calls": reply.model_calls,
        "tool_calls": reply.tool_calls,
    }
    if state.workflow is not None:
        metadata["workflow_id"] = str(state.workflow.id)
    if state.missing_integrations:
        metadata["missing_integrations"] = [item.service_name for item in state.missing_integrations]
    return metadata


def _missing_note(text: str, state: TurnState) -> str:
    """A line naming the integrations still to connect that the model's answer did not name."""
    unnamed = [item for item in state.missing_integrations if item.display_name.lower() not in text.lower()]
    if not unnamed:
        return ""
    names = ", ".join(item.display_name for item in unnamed)
    return f"\n\nBefore activating the workflow, connect: {names} (under Integrations)."


async def post_message(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    content: str,
    context: TurnContext,
    *,
    emit: Emit = ignore_events,
) -> ChatTurn:
    """Save the user's message, let the assistant answer it, and save the answer.

    A credential pasted into the message is replaced by a placeholder before the message is
    stored, embedded or sent to the model, and the answer says where the credential belongs.
    """
    current = await _load(session, session_id, lock=True)
    if current["status"] != "active":
        raise ChatSessionClosed(current["status"])
    content, removed = mask_credentials(content)
    user_row = await repository.insert_message(
        session, {"session_id": session_id, "role": "user", "content": content, "metadata": {}}
    )
    await emit("user_message", {"message": _message(user_row).model_dump(mode="json")})
    state = TurnState(
        session=session,
        user_id=user_id,
        chat_session_id=session_id,
        cipher=context.cipher,
        policy=context.policy,
        meta=context.meta,
        intent=current["intent"] or classify_intent(content),
    )
    error: TurnError | None = None
    templates: list[TemplateSuggestion] = []
    missing: list[MissingIntegration] = []
    provider_name = "the AI provider"
    reservation: uuid.UUID | None = None
    try:
        access = await model_access(session, context.cipher, user_id)
        if access is None:
            fallback = await _answer_without_model(session, content)
            text, metadata = fallback.text, fallback.metadata
            templates, missing = fallback.templates, fallback.missing
        else:
            provider_name = access.provider.display_name
            reservation = await _reserve_turn(context.reservations, user_id)
            text, metadata = await _assistant_answer(session, access, current, state, context, emit)
            missing = list(state.missing_integrations)
    except ConnectorError as failure:
        # The savepoint is gone: no tool's work (no draft) outlives the failed turn.
        state.workflow = None
        error = _turn_error(failure, provider_name)
        text, metadata = error.message, {"error": error.model_dump()}
    if reservation is not None:
        # Charged with the answer, in the turn's transaction: a turn rolled back charges nothing
        # (its reservation lapses, see `_reserve_turn`).
        await _settle_turn(session, user_id, reservation, metadata.get("usage", {}).get("credits", 0))
    if removed:
        note = _removed_secrets_note(removed)
        await emit("token", {"text": note})
        text += note
        metadata["secrets_removed"] = removed
    assistant_row = await repository.insert_message(
        session, {"session_id": session_id, "role": "assistant", "content": text, "metadata": metadata}
    )
    session_row = await repository.update_session(
        session,
        session_id,
        {"intent": state.intent, "session_name": current["session_name"] or _name_from(content)},
    )
    await audit.record(
        session,
        user_id=user_id,
        action="chat_session.message",
        resource_type="chat_session",
        resource_id=session_id,
        details={
            "message_id": str(assistant_row["id"]),
            "provider": metadata.get("provider"),
            "workflow_id": str(state.workflow.id) if state.workflow else None,
            "error": error.code if error else None,
        },
        meta=context.meta,
    )
    # Embedded by a worker once this transaction commits: never on the answer's path.
    await jobs.enqueue_embeddings(session, user_id, [user_row["id"], assistant_row["id"]])
    return ChatTurn(
        session=_session(session_row),
        user_message=_message(user_row),
        assistant_message=_message(assistant_row),
        workflow=WorkflowSummary.model_validate(state.workflow.model_dump()) if state.workflow else None,
        missing_integrations=missing,
        templates=templates,
        error=error,
    )


async def _reserve_turn(database: Database, user_id: uuid.UUID) -> uuid.UUID:
    """Reserve the most a turn may cost, or raise `CreditsExhausted` (402) before any model call.

    Committed at once in a transaction of its own: the turn's transaction lasts as long as the
    model takes, and holding the profile's row that long would stall every other run and turn of
    the user. Settled by the turn's transaction; if that rolls back, the reservation lapses after
    `TURN_RESERVATION_LIFETIME` and its credits come back.
    """
    reservation = uuid.uuid4()
    # Credits are the service role's to write; the profile is the caller's own.
    async with database.service_session() as own_transaction:
        await credits.reserve(
            await raw_connection(own_transaction),
            user_id=user_id,
            reservation_id=reservation,
            credits=MAX_TURN_CREDITS,
            purpose="chat_turn",
            what="an answer from the assistant",
            expires_at=credits.expiry(TURN_RESERVATION_LIFETIME),
        )
    return reservation


async def _settle_turn(session: AsyncSession, user_id: uuid.UUID, reservation: uuid.UUID, used: int) -> None:
    async with as_service_role(session):
        await credits.settle(
            await raw_connection(session), user_id=user_id, reservation_id=reservation, used=used
        )


async def _assistant_answer(
    session: AsyncSession,
    access: ModelAccess,
    current: RowMapping,
    state: TurnState,
    context: TurnContext,
    emit: Emit,
) -> tuple[str, dict[str, Any]]:
    integrations = await integrations_repository.statuses_by_service(session)
    prompt = system_prompt(
        connected_services=[name for name, status in integrations.items() if status == "active"],
        session_workflow_id=current["workflow_id"],
        intent=state.intent,
    )
    history = _history(await repository.latest_messages(session, current["id"], limit=HISTORY_MESSAGES))
    async with session.begin_nested():
        reply = await run_turn(access, prompt, history, state, context.clients, emit=emit)
    metadata = _reply_metadata(access, reply, state)
    note = _missing_note(reply.text, state)
    if note:
        # The chat window shows what is saved: the note streams like the model's words.
        await emit("token", {"text": note})
    return reply.text + note, metadata


def _removed_secrets_note(kinds: Sequence[str]) -> str:
    places = "; ".join(f"for {kind}, {where_credentials_go(kind)}" for kind in kinds)
    return (
        f"\n\nYour message contained {', '.join(kinds)}: I replaced it with {PLACEHOLDER} before "
        f"saving your message or sending it anywhere. Never paste credentials into a chat: {places}."
    )


def _name_from(content: str) -> str:
    first_line = content.strip().splitlines()[0]
    return (
        first_line if len(first_line) <= SESSION_NAME_LENGTH else first_line[: SESSION_NAME_LENGTH - 1] + "…"
    )


async def embed_messages(
    session: AsyncSession,
    cipher: CredentialCipher,
    policy: OutboundPolicy,
    clients: ModelClients,
    user_id: uuid.UUID,
    message_ids: Sequence[uuid.UUID],
) -> None:
    """Embed the caller's messages for semantic search; a failure is logged, never raised."""
    try:
        access = await embedding_access(session, cipher, policy, user_id)
        rows = await repository.messages_by_id(session, message_ids)
        if access is None or not rows:
            return
        vectors = await embed(clients, access, [row["content"] for row in rows])
        async with session.begin_nested():
            for row, vector in zip(rows, vectors, strict=True):
                await repository.store_embedding(session, row["id"], vector, access.model)
    except (ConnectorError, SQLAlchemyError) as error:
        logger.warning("chat messages %s not embedded: %s", [str(m) for m in message_ids], error)


# --- search -------------------------------------------------------------------------------------


async def search(
    session: AsyncSession, context: TurnContext, user_id: uuid.UUID, query: str, *, limit: int
) -> ChatSearchResults:
    """The caller's messages matching `query`: full text always, fused with vector similarity
    (reciprocal rank fusion) when an embedding model is available."""
    embedding: QueryEmbedding | None = None
    try:
        access = await embedding_access(session, context.cipher, context.policy, user_id)
        if access is not None:
            [vector] = await embed(context.clients, access, [query])
            embedding = QueryEmbedding(vector, access.model)
    except ConnectorError as error:
        logger.warning("chat search fell back to full text only: %s", error)
    return await search_embedded(session, query, embedding, limit=limit)


@dataclass(frozen=True)
class QueryEmbedding:
    """A search query's vector and the model that made it."""

    vector: Sequence[float]
    model: str


async def search_embedded(
    session: AsyncSession, query: str, embedding: QueryEmbedding | None, *, limit: int
) -> ChatSearchResults:
    """`search` once the query is embedded (or not): the part that runs in the database."""
    rankings: dict[str, list[uuid.UUID]] = {
        "text": await repository.text_search(session, query, limit=SEARCH_CANDIDATES)
    }
    if embedding is not None:
        nearest = await repository.vector_search(
            session, embedding.vector, embedding.model, limit=SEARCH_CANDIDATES
        )
        rankings["vector"] = [
            message_id for message_id, similarity in nearest if similarity >= MIN_SIMILARITY
        ]
    scores: dict[uuid.UUID, float] = {}
    matched: dict[uuid.UUID, list[str]] = {}
    for source, ranked in rankings.items():
        for rank, message_id in enumerate(ranked, start=1):
            scores[message_id] = scores.get(message_id, 0.0) + 1.0 / (RRF_K + rank)
            matched.setdefault(message_id, []).append(source)
    best = sorted(scores, key=lambda message_id: -scores[message_id])[:limit]
    rows = {row["id"]: row for row in await repository.messages_by_id(session, best)}
    items = [
        ChatSearchHit.model_validate(
            {
                "message": _message(rows[message_id]),
                "session_name": rows[message_id]["session_name"],
                "score": scores[message_id],
                "matched_by": matched[message_id],
            }
        )
        for message_id in best
        if message_id in rows
    ]
    return ChatSearchResults(
        query=query, items=items, embedding_model=embedding.model if embedding is not None else None
    )


async def passages(
    session: AsyncSession, query: str, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, bool]]]:
    """The passage of each message that best matches `query`, as (text, matched) pieces for a page
    to highlight: PostgreSQL's ts_headline, with the search's own stemming ("alerts" marks "alert")."""
    found = await repository.headlines(session, query, message_ids)
    pieces: dict[uuid.UUID, list[tuple[str, bool]]] = {}
    for message_id, headline in found.items():
        parts = re.split("(\x02[^\x03]*\x03)", headline)
        pieces[message_id] = [
            (part.strip("\x02\x03"), True) if part.startswith("\x02") else (part, False)
            for part in parts
            if part
        ]
    return pieces
