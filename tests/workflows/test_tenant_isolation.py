"""User B tries every id of user A on every workflow, step, execution and integration route: 404s,
and nothing of A's changes (checked in the database)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select, text

from autofy.db import tables
from autofy.db.engine import Database
from tests import factories
from tests.api_fixtures import sign_up
from tests.workflows.api import connect, create_workflow, format_step


async def _snapshot(database: Database) -> dict[str, Any]:
    """Every row of the tables these routes touch, as the service role sees them."""
    async with database.service_session() as session:
        snapshot = {}
        for table in (
            "workflows",
            "workflow_steps",
            "workflow_executions",
            "integrations",
            "workflow_templates",
        ):
            rows = await session.execute(text(f"select to_jsonb(t) from public.{table} t order by id"))  # noqa: S608
            snapshot[table] = [row[0] for row in rows]
    return snapshot


async def test_user_b_gets_404_for_every_id_of_user_a_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    workflow = await create_workflow(client, alice, steps=[format_step("a"), format_step("b")])
    step_a, step_b = (step["id"] for step in workflow["steps"])
    integration = await connect(client, alice, "telegram", {"bot_token": "alice-bot-token"})
    execution = await factories.create_execution(
        database,
        factories.Workflow(uuid.UUID(workflow["id"]), alice.user_id, (uuid.UUID(step_a), uuid.UUID(step_b))),
    )
    bobs_workflow = await create_workflow(client, bob, name="Bob's")
    before = await _snapshot(database)
    w = f"/api/v1/workflows/{workflow['id']}"
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", w, None),
        ("PATCH", w, {"name": "Hijacked"}),
        ("DELETE", w, None),
        ("POST", f"{w}/duplicate", None),
        ("GET", f"{w}/export", None),
        ("GET", f"{w}/validation", None),
        ("POST", f"{w}/activate", None),
        ("POST", f"{w}/pause", None),
        ("POST", f"{w}/archive", None),
        ("POST", f"{w}/restore", None),
        ("POST", f"{w}/steps", format_step("injected")),
        ("PATCH", f"{w}/steps/{step_a}", {"is_enabled": False}),
        ("DELETE", f"{w}/steps/{step_a}", None),
        ("PUT", f"{w}/steps/order", {"step_ids": [step_b, step_a]}),
        ("PATCH", f"/api/v1/workflows/{bobs_workflow['id']}/steps/{step_a}", {"is_enabled": False}),
        ("DELETE", f"/api/v1/workflows/{bobs_workflow['id']}/steps/{step_a}", None),
        ("GET", f"{w}/executions", None),
        ("GET", f"/api/v1/executions?workflow_id={workflow['id']}", None),
        ("GET", f"/api/v1/executions/{execution}", None),
        ("GET", f"/api/v1/integrations/{integration['id']}", None),
        ("PATCH", f"/api/v1/integrations/{integration['id']}", {"display_name": "Mine now"}),
        ("DELETE", f"/api/v1/integrations/{integration['id']}", None),
        ("POST", f"/api/v1/integrations/{integration['id']}/test", None),
    ]

    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=bob.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"]["code"] == "not_found"

    # Lists show Bob only his own rows.
    listed = await client.get("/api/v1/workflows", headers=bob.headers)
    assert [item["id"] for item in listed.json()["items"]] == [bobs_workflow["id"]]
    assert (await client.get("/api/v1/executions", headers=bob.headers)).json()["total"] == 0
    assert (await client.get("/api/v1/integrations", headers=bob.headers)).json() == []
    dashboard = (await client.get("/api/v1/dashboard", headers=bob.headers)).json()
    assert (dashboard["workflows_total"], dashboard["executions_total"]) == (1, 0)
    # Bob can neither move Alice's steps into his workflow's order nor reach them through it.
    foreign_order = await client.put(
        f"/api/v1/workflows/{bobs_workflow['id']}/steps/order",
        json={"step_ids": [step_a]},
        headers=bob.headers,
    )
    assert foreign_order.status_code == 422
    # Nothing of Alice's changed.
    assert await _snapshot(database) == before
    async with database.service_session() as session:
        bob_audit_resources = set(
            (
                await session.scalars(
                    select(tables.audit_logs.c.resource_id).where(
                        tables.audit_logs.c.user_id == bob.user_id,
                        tables.audit_logs.c.resource_type.in_(["workflow", "integration"]),
                    )
                )
            ).all()
        )
    assert bob_audit_resources == {uuid.UUID(bobs_workflow["id"])}


async def test_unknown_and_foreign_ids_get_the_same_answer(client: httpx.AsyncClient) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    workflow = await create_workflow(client, alice)

    foreign = await client.get(f"/api/v1/workflows/{workflow['id']}", headers=bob.headers)
    unknown_id = uuid.uuid4()
    unknown = await client.get(f"/api/v1/workflows/{unknown_id}", headers=bob.headers)

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["message"].replace(workflow["id"], "<id>") == unknown.json()["error"][
        "message"
    ].replace(str(unknown_id), "<id>")
