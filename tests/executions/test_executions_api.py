"""The execution history and the dashboard through the API (executions written as the engine does)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from tests import factories
from tests.api_fixtures import SignedUpUser, sign_up
from tests.workflows.api import create_workflow

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _factory_workflow(user: SignedUpUser, created: dict[str, object]) -> factories.Workflow:
    steps = created["steps"]
    assert isinstance(steps, list)
    return factories.Workflow(
        id=uuid.UUID(str(created["id"])),
        user_id=user.user_id,
        step_ids=tuple(uuid.UUID(s["id"]) for s in steps),
    )


async def _run(
    database: Database, workflow: factories.Workflow, status: str, minutes_ago: int, **values: object
) -> str:
    started = NOW - timedelta(minutes=minutes_ago)
    execution_id = await factories.create_execution(
        database, workflow, execution_status="running", started_at=started, **values
    )
    if status != "running":
        # Executions are written by the service role only.
        async with database.service_session() as session:
            await session.execute(
                update(tables.workflow_executions)
                .where(tables.workflow_executions.c.id == execution_id)
                .values(
                    execution_status=status,
                    completed_at=started + timedelta(seconds=3),
                    duration=timedelta(seconds=3),
                    error_message="Telegram answered 400: chat not found" if status == "failed" else None,
                )
            )
    return str(execution_id)


async def test_list_is_newest_first_with_filters_and_pagination(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    first = _factory_workflow(user, await create_workflow(client, user, name="First"))
    second = _factory_workflow(user, await create_workflow(client, user, name="Second"))
    oldest = await _run(database, first, "completed", 50)
    failed = await _run(database, first, "failed", 40)
    other = await _run(database, second, "completed", 30)
    newest = await _run(database, first, "running", 10)

    async def listed(url: str = "/api/v1/executions", **params: object) -> dict[str, object]:
        response = await client.get(url, params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        page: dict[str, object] = response.json()
        return page

    def ids(page: dict[str, object]) -> list[str]:
        items = page["items"]
        assert isinstance(items, list)
        return [item["id"] for item in items]

    everything = await listed()
    assert ids(everything) == [newest, other, failed, oldest]
    assert everything["total"] == 4
    items = everything["items"]
    assert isinstance(items, list)
    assert items[1]["workflow_name"] == "Second"
    assert items[1]["duration_seconds"] == 3.0
    assert ids(await listed(status="failed")) == [failed]
    assert ids(await listed(workflow_id=str(second.id))) == [other]
    assert ids(await listed(f"/api/v1/workflows/{first.id}/executions")) == [newest, failed, oldest]
    window = await listed(
        started_after=(NOW - timedelta(minutes=45)).isoformat(),
        started_before=(NOW - timedelta(minutes=20)).isoformat(),
    )
    assert ids(window) == [other, failed]

    page_one = await listed(limit=3)
    assert page_one["next_cursor"] is not None
    page_two = await listed(limit=3, cursor=page_one["next_cursor"])
    assert ids(page_one) + ids(page_two) == [newest, other, failed, oldest]
    assert page_two["next_cursor"] is None


async def test_list_rejects_bad_filters(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    for params in (
        {"status": "exploded"},
        {"workflow_id": "nope"},
        {"started_after": "yesterday"},
        {"started_after": NOW.isoformat(), "started_before": (NOW - timedelta(days=1)).isoformat()},
        {"limit": 101},
        {"cursor": "%%%"},
    ):
        response = await client.get("/api/v1/executions", params=params, headers=user.headers)
        assert response.status_code == 422, params
    unknown = await client.get(f"/api/v1/workflows/{uuid.uuid4()}/executions", headers=user.headers)
    assert unknown.status_code == 404


async def test_get_returns_the_step_results(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    workflow = _factory_workflow(user, await create_workflow(client, user))
    step_results = [
        {"step_id": str(workflow.step_ids[0]), "status": "completed", "output": {"result": "ADA"}}
    ]
    execution_id = await _run(
        database, workflow, "completed", 5, step_results=step_results, trigger_data={"name": "ada"}
    )

    response = await client.get(f"/api/v1/executions/{execution_id}", headers=user.headers)
    missing = await client.get(f"/api/v1/executions/{uuid.uuid4()}", headers=user.headers)

    assert response.status_code == 200, response.text
    execution = response.json()
    assert execution["execution_status"] == "completed"
    assert execution["step_results"] == step_results
    assert execution["trigger_data"] == {"name": "ada"}
    assert missing.status_code == 404


async def test_dashboard_sums_up_workflows_runs_and_credits(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    empty = await client.get("/api/v1/dashboard", headers=user.headers)
    assert empty.json()["success_rate"] is None
    assert empty.json()["credits_limit"] == 1000
    workflow = _factory_workflow(user, await create_workflow(client, user, name="Busy"))
    await create_workflow(client, user, name="Idle")
    await client.post(f"/api/v1/workflows/{workflow.id}/activate", headers=user.headers)
    for minutes_ago in (50, 40, 30):
        await _run(database, workflow, "completed", minutes_ago)
    failed = await _run(database, workflow, "failed", 20)
    await _run(database, workflow, "running", 10)
    async with database.service_session() as session:
        await session.execute(
            update(tables.profiles).where(tables.profiles.c.id == user.user_id).values(credits_used=42)
        )

    response = await client.get("/api/v1/dashboard", headers=user.headers)

    assert response.status_code == 200
    dashboard = response.json()
    assert (dashboard["workflows_total"], dashboard["workflows_active"]) == (2, 1)
    assert (dashboard["executions_total"], dashboard["executions_running"]) == (5, 1)
    assert dashboard["success_rate"] == 0.75
    assert (dashboard["credits_used"], dashboard["credits_limit"]) == (42, 1000)
    assert [f["execution_id"] for f in dashboard["recent_failures"]] == [failed]
    assert dashboard["recent_failures"][0]["workflow_name"] == "Busy"
    assert (await client.get("/api/v1/dashboard")).status_code == 401


async def test_times_without_a_zone_are_read_as_utc(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    workflow = _factory_workflow(user, await create_workflow(client, user))
    execution_id = await _run(database, workflow, "completed", 30)

    naive = (NOW - timedelta(minutes=40)).replace(tzinfo=None).isoformat()
    response = await client.get("/api/v1/executions", params={"started_after": naive}, headers=user.headers)

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [execution_id]


async def test_a_bounded_count_stops_at_its_limit_and_keeps_the_page(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = _factory_workflow(user, await create_workflow(client, user, name="Busy"))
    for minutes_ago in (30, 20, 10):
        await _run(database, workflow, "completed", minutes_ago)

    async with database.user_session(user_claims(user.user_id)) as session:
        bounded = await executions_service.list_executions(
            session, ExecutionFilters(), limit=1, count_limit=2
        )
        exact = await executions_service.list_executions(session, ExecutionFilters(), limit=1)

    assert (bounded.total, exact.total) == (2, 3)
    assert bounded.items == exact.items
    assert bounded.next_cursor == exact.next_cursor
