"""Chat work done after the answer is delivered: the embeddings of a turn's messages, queued.

A turn enqueues the job in its own transaction (pgqueuer, like the engine's jobs), so a rolled back
turn leaves no job and a committed one never loses it; an engine worker runs it, off the answer's
path. A failure to embed is logged, never raised: a message without an embedding is still found
by full-text search.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.outbound import OutboundPolicy
from autofy.db.engine import Database, as_service_role, user_claims
from autofy.engine.queue import raw_connection
from autofy.security.crypto import CredentialCipher

EMBED_CHAT_MESSAGES = "autofy.embed_chat_messages"


@dataclass(frozen=True)
class EmbeddingJob:
    user_id: uuid.UUID
    message_ids: tuple[uuid.UUID, ...]

    def encode(self) -> bytes:
        return json.dumps(
            {"user_id": str(self.user_id), "message_ids": [str(m) for m in self.message_ids]}
        ).encode()

    @classmethod
    def decode(cls, payload: bytes | None) -> EmbeddingJob:
        if payload is None:
            raise ValueError("an embedding job without a payload")
        body = json.loads(payload)
        return cls(uuid.UUID(body["user_id"]), tuple(uuid.UUID(m) for m in body["message_ids"]))


async def enqueue_embeddings(
    session: AsyncSession, user_id: uuid.UUID, message_ids: Sequence[uuid.UUID]
) -> None:
    """Queue the embedding of `message_ids` (the caller's own, just saved) in the session's transaction."""
    queries = Queries(AsyncpgDriver(await raw_connection(session)))
    # The queue is the service's: users may not write it.
    async with as_service_role(session):
        await queries.enqueue(EMBED_CHAT_MESSAGES, EmbeddingJob(user_id, tuple(message_ids)).encode())


async def run_embedding_job(
    database: Database,
    cipher: CredentialCipher,
    policy: OutboundPolicy,
    clients: ModelClients,
    payload: bytes | None,
) -> None:
    """Embed the job's messages as their owner (RLS applies), in one transaction."""
    # Imported here: the chat service enqueues these jobs, so it imports this module.
    from autofy.chat import service

    job = EmbeddingJob.decode(payload)
    async with database.user_session(user_claims(job.user_id)) as session:
        await service.embed_messages(session, cipher, policy, clients, job.user_id, job.message_ids)
