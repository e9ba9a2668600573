"""Liveness, readiness, metrics and the status page, as an operator polls them."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.db.migrate import head_revision
from autofy.observability import metrics
from autofy.status.checker import run_checks
from tests.api_fixtures import sign_up
from tests.factories import create_integration, create_user
from tests.fakes.http_echo import ConnectionCounter
from tests.status.test_checker import UnauthenticatedApi


def _no_default_bases(_: str) -> str | None:
    return None


async def test_ready_reports_the_schema_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["ready"] is True
    assert response.json()["schema_version"] == head_revision()


async def test_status_page_shows_latest_state_and_history(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with httpx.AsyncClient() as http:
        await run_checks(database, http, _no_default_bases)
        await run_checks(database, http, _no_default_bases)
    user = await sign_up(client)

    response = await client.get("/api/v1/status", headers=user.headers)

    assert response.status_code == 200
    services = {service["service_name"]: service for service in response.json()["services"]}
    assert services["database"]["status"] in {"healthy", "degraded"}
    assert services["workers"]["status"] == "down"  # no worker runs in this test
    assert response.json()["status"] == "down"
    # two checks plus the seed's initial row
    assert len(services["database"]["history"]) == 3
    history_times = [check["checked_at"] for check in services["database"]["history"]]
    assert history_times == sorted(history_times, reverse=True)


async def test_a_tenants_own_api_base_is_neither_probed_nor_shown(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await create_user(database)
    with ConnectionCounter().running() as tenant_proxy, UnauthenticatedApi().running() as openai_api:
        private_base = f"http://127.0.0.1:{tenant_proxy.port}/tenant-private-proxy/v1"
        await create_integration(database, owner, "openai", configuration={"api_base": private_base})
        async with httpx.AsyncClient() as http:
            await run_checks(database, http, {"openai": openai_api.url}.get)
        other = await sign_up(client)

        response = await client.get("/api/v1/status", headers=other.headers)

        # The service's own API is what is watched; the tenant's server is theirs alone.
        assert tenant_proxy.connections() == 0
        assert len(openai_api.requests) == 1
    assert response.status_code == 200
    openai = next(s for s in response.json()["services"] if s["service_name"] == "openai")
    assert openai["status"] == "healthy"
    assert "tenant-private-proxy" not in response.text
    # Nor in the rows themselves, which every signed-in user may select (RLS: all rows).
    async with database.user_session(user_claims(other.user_id, other.email)) as session:
        rows = (await session.scalars(select(tables.system_status.c.metadata))).all()
    assert rows
    assert "tenant-private-proxy" not in str(rows)


async def test_status_page_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/status")).status_code == 401


def _requests_counted(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return metrics.REGISTRY.get_sample_value("autofy_http_requests_total", labels) or 0.0


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    health_before = _requests_counted("/health", "200")
    unknown_before = _requests_counted("/api/v1/preferences/{key}", "401")

    for _ in range(3):
        await client.get("/health")
    await client.get("/api/v1/preferences/secret-key-name-0000")
    body = (await client.get("/metrics")).text

    assert _requests_counted("/health", "200") == health_before + 3
    assert _requests_counted("/api/v1/preferences/{key}", "401") == unknown_before + 1
    assert "autofy_queue_depth 0.0" in body
    assert "secret-key-name-0000" not in body
