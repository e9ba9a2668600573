"""SQL for chat sessions and messages, and their search.

Everything runs on the caller's session, as the user: RLS decides which sessions and messages exist.
One write a user may not make runs as the service role for one statement, after RLS has shown the
row is the caller's: the embedding of a message (users can neither read nor write that column).
The two searches call SECURITY DEFINER functions that filter on the caller's own sessions
themselves (0006 and 0015_chat_search_index say why), still in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, Text, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.engine import as_service_role
from autofy.db.tables import (
    CHAT_MESSAGE_USER_COLUMNS,
    chat_messages,
    chat_sessions,
    workflow_templates,
)

_sessions = chat_sessions.c
_messages = chat_messages.c

# Full text through the GIN index, as the caller (0015_chat_search_index says why it is a function).
_TEXT_SEARCH = text("select message_id, rank from public.search_chat_messages_text(:query, :limit)")
_VECTOR_SEARCH = text(
    "select message_id, similarity from public.match_chat_messages(cast(:embedding as text)::vector, "
    ":model, :limit)"
)
# The passages of messages that best match a query, matched words between \x02 and \x03: the
# same parser and stemming as _TEXT_SEARCH, so "alerts" highlights "alert".
_HEADLINES = text(
    """
    select m.id, ts_headline('english'::regconfig, m.content, q.query,
                             'StartSel=' || chr(2) || ', StopSel=' || chr(3) ||
                             ', MinWords=12, MaxWords=35, MaxFragments=2, FragmentDelimiter=" … "')
                 as passage
    from public.chat_messages m, websearch_to_tsquery('english'::regconfig, :query) as q(query)
    where m.id = any(:ids)
    """
)
# Templates sharing any word with the user's request, best first: an OR of the request's words.
_TEMPLATE_SEARCH = text(
    """
    select t.id, t.name, t.description, t.required_integrations,
           ts_rank(d.document, q.query) as rank
    from public.workflow_templates t,
         to_tsvector('english'::regconfig,
                     t.name || ' ' || coalesce(t.description, '') || ' ' ||
                     array_to_string(t.required_integrations, ' ')) as d(document),
         to_tsquery('english'::regconfig, :query) as q(query)
    where d.document @@ q.query
    order by rank desc, t.is_featured desc, t.name
    limit :limit
    """
)


# --- sessions -----------------------------------------------------------------------------------


async def insert_session(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    result = await session.execute(insert(chat_sessions).values(**values).returning(chat_sessions))
    row: RowMapping = result.mappings().one()
    return row


async def list_sessions(
    session: AsyncSession, *, status: str | None, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    conditions = [] if status is None else [_sessions.status == status]
    total = await session.scalar(select(func.count()).select_from(chat_sessions).where(*conditions))
    result = await session.execute(
        select(chat_sessions)
        .where(*conditions)
        .order_by(_sessions.updated_at.desc(), _sessions.id)
        .limit(limit)
        .offset(offset)
    )
    return list(result.mappings().all()), int(total or 0)


async def get_session(
    session: AsyncSession, session_id: uuid.UUID, *, lock: bool = False
) -> RowMapping | None:
    query = select(chat_sessions).where(_sessions.id == session_id)
    if lock:
        # One turn at a time per chat session: a second message waits for the first answer.
        query = query.with_for_update()
    result = await session.execute(query)
    return result.mappings().one_or_none()


async def update_session(
    session: AsyncSession, session_id: uuid.UUID, values: Mapping[str, Any]
) -> RowMapping:
    result = await session.execute(
        update(chat_sessions).where(_sessions.id == session_id).values(**values).returning(chat_sessions)
    )
    row: RowMapping = result.mappings().one()
    return row


async def delete_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    """Delete the session; its messages go with it (on delete cascade), a draft it made stays."""
    await session.execute(delete(chat_sessions).where(_sessions.id == session_id))


# --- messages -----------------------------------------------------------------------------------


async def insert_message(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    result = await session.execute(
        insert(chat_messages).values(**values).returning(*CHAT_MESSAGE_USER_COLUMNS)
    )
    return result.mappings().one()


async def list_messages(
    session: AsyncSession, session_id: uuid.UUID, *, limit: int, offset: int = 0
) -> list[RowMapping]:
    result = await session.execute(
        select(*CHAT_MESSAGE_USER_COLUMNS)
        .where(_messages.session_id == session_id)
        .order_by(_messages.created_at, _messages.id)
        .limit(limit)
        .offset(offset)
    )
    return list(result.mappings().all())


async def latest_messages(session: AsyncSession, session_id: uuid.UUID, *, limit: int) -> list[RowMapping]:
    """The last `limit` messages of the session, oldest first (the model's memory of the chat)."""
    result = await session.execute(
        select(*CHAT_MESSAGE_USER_COLUMNS)
        .where(_messages.session_id == session_id)
        .order_by(_messages.created_at.desc(), _messages.id.desc())
        .limit(limit)
    )
    return list(reversed(result.mappings().all()))


async def messages_by_id(session: AsyncSession, message_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    """The caller's messages among `message_ids`, with their session's name."""
    if not message_ids:
        return []
    result = await session.execute(
        select(*CHAT_MESSAGE_USER_COLUMNS, _sessions.session_name)
        .join(chat_sessions, _sessions.id == _messages.session_id)
        .where(_messages.id.in_(list(message_ids)))
    )
    return list(result.mappings().all())


async def store_embedding(
    session: AsyncSession, message_id: uuid.UUID, embedding: Sequence[float], model: str
) -> None:
    """Write a message's embedding and the model that made it (only same-model vectors compare).

    Users may not write the embedding column: the service role writes it, for a message the caller
    has just saved in this transaction.
    """
    async with as_service_role(session):
        await session.execute(
            update(chat_messages)
            .where(_messages.id == message_id)
            .values(
                embedding=list(embedding),
                metadata=func.coalesce(_messages.metadata, text("'{}'::jsonb")).op("||")(
                    func.jsonb_build_object("embedding_model", bindparam("model", model, type_=Text))
                ),
            )
        )


# --- search -------------------------------------------------------------------------------------


async def text_search(session: AsyncSession, query: str, *, limit: int) -> list[uuid.UUID]:
    """Ids of the caller's messages matching `query` (web-search syntax), best first."""
    result = await session.execute(_TEXT_SEARCH, {"query": query, "limit": limit})
    return [row.message_id for row in result]


async def vector_search(
    session: AsyncSession, embedding: Sequence[float], model: str, *, limit: int
) -> list[tuple[uuid.UUID, float]]:
    """(id, cosine similarity) of the caller's messages embedded by `model`, nearest first."""
    literal = "[" + ",".join(repr(float(value)) for value in embedding) + "]"
    result = await session.execute(_VECTOR_SEARCH, {"embedding": literal, "model": model, "limit": limit})
    return [(row.message_id, float(row.similarity)) for row in result]


async def headlines(
    session: AsyncSession, query: str, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each message's best passage for `query`, matched words between \x02 and \x03."""
    if not message_ids:
        return {}
    result = await session.execute(_HEADLINES, {"query": query, "ids": list(message_ids)})
    return {row.id: row.passage for row in result}


async def find_templates(session: AsyncSession, words: Sequence[str], *, limit: int) -> list[RowMapping]:
    """Workflow templates sharing words with a request (plain words only; the caller cleans them)."""
    if not words:
        return []
    query = " | ".join(words)
    result = await session.execute(_TEMPLATE_SEARCH, {"query": query, "limit": limit})
    return list(result.mappings().all())


async def featured_templates(session: AsyncSession, *, limit: int) -> list[RowMapping]:
    result = await session.execute(
        select(
            workflow_templates.c.id,
            workflow_templates.c.name,
            workflow_templates.c.description,
            workflow_templates.c.required_integrations,
        )
        .order_by(workflow_templates.c.is_featured.desc(), workflow_templates.c.name)
        .limit(limit)
    )
    return list(result.mappings().all())
