"""Trigger test harness: the app with the trigger routes, connector access for the fakes, a
controllable clock for schedulers, and small helpers to read executions."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.outbound import OutboundPolicy
from autofy.db import tables
from autofy.db.engine import Database
from autofy.security.crypto import CredentialCipher
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.service import on_workflow_status_changed
from tests.factories import User, Workflow
from tests.support import WAIT_SECONDS


@pytest.fixture
def connectors(api_settings: Settings) -> ConnectorAccess:
    return ConnectorAccess(
        catalog=catalog(),
        cipher=CredentialCipher.from_settings(api_settings),
        policy=OutboundPolicy(allow_private_network=True),
        public_url=api_settings.external_url,
    )


@dataclass
class FakeClock:
    """A scheduler's clock that moves only when the test moves it. A scheduler waiting for a slot
    (`sleep`) waits until the test moves the clock, so a test can act while a batch is prepared."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    sleeping: int = 0  # how many are waiting for the clock to move
    _moved: asyncio.Event = field(default_factory=asyncio.Event)
    _slept: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        moved = self._moved
        self.sleeping += 1
        self._slept.set()
        try:
            await moved.wait()
        finally:
            self.sleeping -= 1

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Until `count` schedulers wait for the clock to move (a condition, with a deadline)."""
        async with asyncio.timeout(WAIT_SECONDS):
            while self.sleeping < count:
                self._slept.clear()
                await self._slept.wait()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def activate(database: Database, connectors: ConnectorAccess) -> Any:
    """`await activate(workflow, now=...)`: set the workflow active as its owner and run the hook
    the status change runs (in the same transaction, as the API does)."""

    async def run(
        workflow: Workflow, user: User, *, now: datetime | None = None, status: str = "active"
    ) -> None:
        async with database.user_session(user.claims) as session:
            await session.execute(
                tables.workflows.update().where(tables.workflows.c.id == workflow.id).values(status=status)
            )
            await on_workflow_status_changed(session, workflow.id, status, connectors=connectors, now=now)

    return run


async def executions_of(database: Database, workflow_id: uuid.UUID) -> list[dict[str, Any]]:
    """The workflow's executions, oldest first, read as the service."""
    e = tables.workflow_executions
    async with database.service_session() as session:
        rows = await session.execute(
            select(e.c.id, e.c.execution_status, e.c.trigger_data, e.c.error_message, e.c.metadata)
            .where(e.c.workflow_id == workflow_id)
            .order_by(e.c.started_at, e.c.id)
        )
        return [dict(row._mapping) for row in rows]


async def set_credits(database: Database, user: User, *, used: int, limit: int) -> None:
    async with database.service_session() as session:
        await session.execute(
            text("update public.profiles set credits_used = :used, credits_limit = :limit where id = :id"),
            {"used": used, "limit": limit, "id": user.id},
        )
