"""Liveness, readiness, metrics and the status page, as an operator polls them."""

from __future__ import annotations

import httpx

from autofy.db.engine import Database
from autofy.db.migrate import head_revision
from autofy.observability import metrics
from autofy.status.checker import run_checks
from tests.api_fixtures import sign_up


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
