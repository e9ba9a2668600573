"""Status changes: validation before activation, the transition rules, and the hooks other code uses."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db import tables
from autofy.db.engine import Database
from autofy.workflows import service as workflow_service
from tests.api_fixtures import sign_up
from tests.workflows.api import connect, create_workflow, format_step, problem_fields, telegram_step


async def _status(database: Database, workflow_id: str) -> str:
    async with database.service_session() as session:
        status = await session.scalar(
            select(tables.workflows.c.status).where(tables.workflows.c.id == uuid.UUID(workflow_id))
        )
    return str(status)


@pytest.mark.parametrize(
    ("cron", "reason"), [("* * * * * *", "has 6 fields"), ("0 0 30 2 *", "never comes due within a year")]
)
async def test_a_schedule_firing_every_second_or_never_is_refused_with_422(
    client: httpx.AsyncClient, database: Database, cron: str, reason: str
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(
        client,
        user,
        trigger_type="scheduled",
        trigger_config={"cron": cron},
        steps=[format_step(configuration={"operation": "upper", "text": "hi"})],
    )

    response = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)

    assert response.status_code == 422
    problem = next(d for d in response.json()["error"]["details"] if d["field"] == "trigger_config")
    assert reason in problem["message"]
    assert await _status(database, workflow["id"]) == "draft"


async def test_saving_an_impossible_schedule_on_an_active_workflow_is_refused_with_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(
        client,
        user,
        trigger_type="scheduled",
        trigger_config={"cron": "0 9 * * *"},
        steps=[format_step(configuration={"operation": "upper", "text": "hi"})],
    )
    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)
    assert activated.status_code == 200, activated.text

    saved = await client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        json={"trigger_config": {"cron": "0 0 30 2 *"}},
        headers=user.headers,
    )

    assert saved.status_code == 422
    assert "trigger_config" in problem_fields(saved)
    assert await _status(database, workflow["id"]) == "active"


async def test_activation_is_refused_with_every_problem_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(
        client,
        user,
        trigger_type="scheduled",
        trigger_config={"cron": "every morning"},
        steps=[format_step(configuration={"operation": "upper"}), telegram_step(chat_id="42")],
    )

    response = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    fields = problem_fields(response)
    assert "trigger_config" in fields
    assert "steps.0.configuration.text" in fields
    assert "steps.1.service_name" in fields  # telegram is not connected
    telegram_problem = next(
        d for d in response.json()["error"]["details"] if d["field"] == "steps.1.service_name"
    )
    assert "Connect telegram" in telegram_problem["message"]
    assert await _status(database, workflow["id"]) == "draft"

    validation = await client.get(f"/api/v1/workflows/{workflow['id']}/validation", headers=user.headers)
    assert validation.status_code == 200
    assert validation.json()["valid"] is False
    assert [p["field"] for p in validation.json()["problems"]] == fields


async def test_activation_succeeds_once_configuration_and_integrations_are_complete(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user, steps=[format_step(), telegram_step()])
    await connect(client, user, "telegram", {"bot_token": "123456:ABC-DEF"})

    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)

    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    assert await _status(database, workflow["id"]) == "active"


async def test_an_integration_in_error_blocks_activation(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user, steps=[telegram_step()])
    integration = await connect(client, user, "telegram", {"bot_token": "123456:ABC-DEF"})
    async with database.service_session() as session:
        await session.execute(
            tables.integrations.update()
            .where(tables.integrations.c.id == uuid.UUID(integration["id"]))
            .values(status="error")
        )

    response = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {
            "field": "steps.0.service_name",
            "message": "The telegram integration's credentials were refused (its error_message says "
            "why): send new ones (PATCH /api/v1/integrations/{id}), then test it.",
        }
    ]


async def test_status_transitions_follow_the_rules(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user)
    url = f"/api/v1/workflows/{workflow['id']}"

    async def move(action: str) -> httpx.Response:
        return await client.post(f"{url}/{action}", headers=user.headers)

    assert (await move("pause")).status_code == 409  # a draft never ran
    assert (await move("restore")).status_code == 409
    assert (await move("activate")).json()["status"] == "active"
    assert (await move("activate")).status_code == 409
    assert (await move("pause")).json()["status"] == "paused"
    assert (await move("activate")).json()["status"] == "active"
    assert (await move("archive")).json()["status"] == "archived"
    refused = await move("activate")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    assert "archived" in refused.json()["error"]["message"]
    assert (await move("restore")).json()["status"] == "draft"
    assert (
        await client.post(f"/api/v1/workflows/{uuid.uuid4()}/activate", headers=user.headers)
    ).status_code == 404
    assert await _status(database, workflow["id"]) == "draft"


async def test_a_change_that_breaks_an_active_workflow_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user, steps=[format_step("keep")])
    await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)
    step_url = f"/api/v1/workflows/{workflow['id']}/steps/{workflow['steps'][0]['id']}"

    broken = await client.patch(step_url, json={"configuration": {}}, headers=user.headers)
    emptied = await client.delete(step_url, headers=user.headers)
    bad_trigger = await client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        json={"trigger_type": "scheduled", "trigger_config": {}},
        headers=user.headers,
    )

    assert broken.status_code == 422
    assert "steps.0.configuration.operation" in problem_fields(broken)
    assert emptied.status_code == 422
    assert bad_trigger.status_code == 422
    current = (await client.get(f"/api/v1/workflows/{workflow['id']}", headers=user.headers)).json()
    assert current["status"] == "active"
    assert current["trigger_type"] == "manual"
    assert current["steps"][0]["configuration"]["text"] == "keep"


async def test_status_hooks_run_in_the_transaction_and_a_failing_hook_undoes_the_change(
    client: httpx.AsyncClient, database: Database, app: FastAPI
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user)
    seen: list[tuple[str, str]] = []

    async def record(session: AsyncSession, change: workflow_service.StatusChange) -> None:
        # The hook sees the change inside the transaction that makes it.
        status = await session.scalar(
            select(tables.workflows.c.status).where(tables.workflows.c.id == change.workflow.id)
        )
        seen.append((change.previous_status, str(status)))

    async def refuse_pausing(session: AsyncSession, change: workflow_service.StatusChange) -> None:
        if change.workflow.status == "paused":
            raise workflow_service.WorkflowInvalid("hook refused", [{"field": "trigger", "message": "no"}])

    app.state.workflow_status_hooks = (record, refuse_pausing)
    url = f"/api/v1/workflows/{workflow['id']}"

    activated = await client.post(f"{url}/activate", headers=user.headers)
    renamed = await client.patch(url, json={"name": "Edited while active"}, headers=user.headers)
    paused = await client.post(f"{url}/pause", headers=user.headers)

    assert (activated.status_code, renamed.status_code, paused.status_code) == (200, 200, 422)
    assert seen == [("draft", "active"), ("active", "active"), ("active", "paused")]
    assert await _status(database, workflow["id"]) == "active"


@pytest.mark.parametrize("action", ["activate", "pause", "archive", "restore"])
async def test_status_changes_are_audited(client: httpx.AsyncClient, database: Database, action: str) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user)
    path = {"activate": ["activate"], "pause": ["activate", "pause"], "archive": ["archive"]}
    for step in path.get(action, ["archive", "restore"]):
        response = await client.post(f"/api/v1/workflows/{workflow['id']}/{step}", headers=user.headers)
        assert response.status_code == 200, response.text

    async with database.service_session() as session:
        actions = (
            await session.scalars(
                select(tables.audit_logs.c.action)
                .where(tables.audit_logs.c.resource_id == uuid.UUID(workflow["id"]))
                .order_by(tables.audit_logs.c.created_at)
            )
        ).all()
    assert actions[-1] == f"workflow.{action}"
