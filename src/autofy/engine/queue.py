"""The job queue the engine runs on: pgqueuer, on the caller's own transaction.

Every job is enqueued on the connection of the transaction whose state change causes it (a new
execution, a checkpoint before a delay or a retry), so a rollback never leaves a job behind and a
commit never loses one. pgqueuer's enqueue is a single `INSERT … RETURNING` sent through its
driver: it opens no transaction of its own, so it runs inside ours.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.engine.repository import Connection

# The one entrypoint of the engine: "advance this execution from where its checkpoint says".
RUN_EXECUTION = "autofy.run_execution"


@dataclass(frozen=True)
class ExecutionJob:
    """What a job carries: which execution, and which of its jobs this is.

    `job_seq` is the execution's `engine_job_seq` when the job was enqueued. The execution moves it
    on whenever it enqueues a newer job (delay, retry) so an older job that is delivered late is
    recognised as superseded and does nothing.
    """

    execution_id: uuid.UUID
    job_seq: int

    @property
    def dedupe_key(self) -> str:
        # At most one live job per (execution, job_seq); the sweeper finds a run's job by it.
        return f"{self.execution_id}:{self.job_seq}"

    def encode(self) -> bytes:
        return json.dumps({"execution_id": str(self.execution_id), "job_seq": self.job_seq}).encode()

    @classmethod
    def decode(cls, payload: bytes | None) -> ExecutionJob:
        if payload is None:
            raise ValueError("an engine job without a payload")
        body: dict[str, Any] = json.loads(payload)
        return cls(execution_id=uuid.UUID(body["execution_id"]), job_seq=int(body["job_seq"]))


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a session's transaction (where our SQL and the queue's run)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver_connection = raw.driver_connection
    assert isinstance(driver_connection, asyncpg.Connection)
    return driver_connection


async def enqueue(connection: Connection, job: ExecutionJob, *, delay: timedelta | None = None) -> int:
    """Put `job` on the queue inside the connection's transaction; it runs after `delay` (if any)."""
    # A pool's connection proxy forwards every Connection method the driver calls.
    queries = Queries(AsyncpgDriver(cast(asyncpg.Connection, connection)))
    (job_id,) = await queries.enqueue(
        RUN_EXECUTION, job.encode(), execute_after=delay, dedupe_key=job.dedupe_key
    )
    return int(job_id)
