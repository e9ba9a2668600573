"""The health monitor records what it sees: states change when a service goes down and comes back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select, text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autofy.db import tables
from autofy.db.engine import Database
from autofy.status.checker import Check, run_checks
from autofy.status.heartbeat import beat
from tests.factories import create_integration, create_user
from tests.fakes.base import FakeServer


class UnauthenticatedApi(FakeServer):
    """A provider's API as an anonymous caller sees it: it answers, with 401."""

    def routes(self) -> list[Route]:
        async def root(_: Request) -> JSONResponse:
            return JSONResponse({"error": "unauthorized"}, status_code=401)

        return [Route("/", root)]


@pytest.fixture
def provider() -> Iterator[UnauthenticatedApi]:
    with UnauthenticatedApi().running() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _no_default_bases(_: str) -> str | None:
    return None


def _by_service(checks: list[Check] | None) -> dict[str, Check]:
    assert checks is not None
    return {check.service_name: check for check in checks}


async def test_a_service_in_use_goes_down_and_comes_back(
    database: Database, provider: UnauthenticatedApi, http: httpx.AsyncClient
) -> None:
    user = await create_user(database)
    await create_integration(database, user, "telegram")
    telegram_api = {"telegram": provider.url}.get

    first = _by_service(await run_checks(database, http, telegram_api))
    assert first["telegram"].status == "healthy"
    assert first["telegram"].response_time is not None

    provider.stop()
    second = _by_service(await run_checks(database, http, telegram_api))
    assert second["telegram"].status == "down"
    assert "unreachable" in (second["telegram"].error_message or "")

    provider.start()
    third = _by_service(await run_checks(database, http, telegram_api))
    assert third["telegram"].status == "healthy"

    async with database.service_session() as session:
        recorded = (
            await session.scalars(
                select(tables.system_status.c.status)
                .where(tables.system_status.c.service_name == "telegram")
                .where(tables.system_status.c.metadata["initial"].is_(None))
                .order_by(tables.system_status.c.checked_at)
            )
        ).all()
    assert recorded == ["healthy", "down", "healthy"]


async def test_services_without_active_integrations_are_not_probed(
    database: Database, provider: UnauthenticatedApi, http: httpx.AsyncClient
) -> None:
    user = await create_user(database)
    await create_integration(database, user, "notion", status="inactive")
    checks = _by_service(await run_checks(database, http, {"notion": provider.url}.get))
    assert "notion" not in checks
    assert provider.requests == []


async def test_queue_age_and_worker_heartbeats_decide_their_states(
    database: Database, http: httpx.AsyncClient
) -> None:
    checks = _by_service(await run_checks(database, http, _no_default_bases))
    assert checks["queue"].status == "healthy"
    assert checks["queue"].metadata["depth"] == 0
    assert checks["workers"].status == "down"
    assert checks["scheduler"].status == "down"

    async with database.service_session() as session:
        await session.execute(
            text(
                "insert into pgqueuer (priority, status, entrypoint, execute_after) "
                "values (0, 'queued', 'autofy.step', now() - interval '10 minutes')"
            )
        )
    await beat(database, uuid.uuid4(), "worker")

    checks = _by_service(await run_checks(database, http, _no_default_bases))
    assert checks["queue"].status == "down"
    assert checks["queue"].metadata["depth"] == 1
    assert checks["workers"].status == "healthy"
    assert checks["workers"].metadata["alive"] == 1
    assert checks["database"].status in {"healthy", "degraded"}
