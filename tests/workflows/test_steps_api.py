"""Steps through the API: add at a position, change, delete, and reorder without breaking UNIQUE order."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import SignedUpUser, sign_up
from tests.workflows.api import create_workflow, format_step, problem_fields


async def _orders(database: Database, workflow_id: str) -> list[tuple[int, str]]:
    """(step_order, text) of every step, read from the database."""
    async with database.service_session() as session:
        rows = await session.execute(
            select(tables.workflow_steps.c.step_order, tables.workflow_steps.c.configuration)
            .where(tables.workflow_steps.c.workflow_id == uuid.UUID(workflow_id))
            .order_by(tables.workflow_steps.c.step_order)
        )
        return [(order, configuration.get("text", "")) for order, configuration in rows.all()]


async def _three_steps(client: httpx.AsyncClient, user: SignedUpUser) -> dict[str, Any]:
    return await create_workflow(client, user, steps=[format_step("a"), format_step("b"), format_step("c")])


async def test_add_step_appends_or_inserts_and_shifts_later_steps(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    url = f"/api/v1/workflows/{workflow['id']}/steps"

    appended = await client.post(url, json=format_step("d"), headers=user.headers)
    inserted = await client.post(url, json=format_step("first", step_order=1), headers=user.headers)

    assert appended.status_code == 201, appended.text
    assert appended.json()["step_order"] == 4
    assert inserted.status_code == 201
    assert inserted.json()["step_order"] == 1
    assert await _orders(database, workflow["id"]) == [(1, "first"), (2, "a"), (3, "b"), (4, "c"), (5, "d")]


async def test_add_step_rejects_bad_positions_unknown_actions_and_bad_bodies(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    url = f"/api/v1/workflows/{workflow['id']}/steps"

    too_far = await client.post(url, json=format_step(step_order=9), headers=user.headers)
    unknown = await client.post(url, json=format_step(action_name="teleport"), headers=user.headers)
    wrong_type = await client.post(url, json=format_step(configuration="text"), headers=user.headers)
    missing_workflow = await client.post(
        f"/api/v1/workflows/{uuid.uuid4()}/steps", json=format_step(), headers=user.headers
    )

    assert too_far.status_code == 422
    assert problem_fields(too_far) == ["step_order"]
    assert unknown.status_code == 422
    assert problem_fields(unknown) == ["steps.3.action_name"]
    assert wrong_type.status_code == 422
    assert missing_workflow.status_code == 404
    assert await _orders(database, workflow["id"]) == [(1, "a"), (2, "b"), (3, "c")]


async def test_update_step_changes_its_fields_and_checks_the_catalog(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    step = workflow["steps"][1]
    url = f"/api/v1/workflows/{workflow['id']}/steps/{step['id']}"

    changed = await client.patch(
        url,
        json={"configuration": {"operation": "lower", "text": "B"}, "is_enabled": False},
        headers=user.headers,
    )
    unknown = await client.patch(url, json={"service_name": "fax"}, headers=user.headers)
    moved = await client.patch(url, json={"step_order": 1}, headers=user.headers)
    null = await client.patch(url, json={"configuration": None}, headers=user.headers)
    other_workflow = await create_workflow(client, user)
    wrong_parent = await client.patch(
        f"/api/v1/workflows/{other_workflow['id']}/steps/{step['id']}",
        json={"is_enabled": True},
        headers=user.headers,
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["configuration"] == {"operation": "lower", "text": "B"}
    assert changed.json()["is_enabled"] is False
    assert unknown.status_code == 422
    assert problem_fields(unknown) == ["steps.1.service_name"]
    assert moved.status_code == 422
    assert null.status_code == 422
    assert wrong_parent.status_code == 404


async def test_delete_step_closes_the_gap(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    middle = workflow["steps"][1]["id"]

    deleted = await client.delete(f"/api/v1/workflows/{workflow['id']}/steps/{middle}", headers=user.headers)
    again = await client.delete(f"/api/v1/workflows/{workflow['id']}/steps/{middle}", headers=user.headers)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert await _orders(database, workflow["id"]) == [(1, "a"), (2, "c")]


async def test_reorder_keeps_step_order_unique_and_contiguous(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    a, b, c = (step["id"] for step in workflow["steps"])

    response = await client.put(
        f"/api/v1/workflows/{workflow['id']}/steps/order", json={"step_ids": [c, a, b]}, headers=user.headers
    )

    assert response.status_code == 200, response.text
    assert [(s["id"], s["step_order"]) for s in response.json()] == [(c, 1), (a, 2), (b, 3)]
    assert await _orders(database, workflow["id"]) == [(1, "c"), (2, "a"), (3, "b")]
    reversed_again = await client.put(
        f"/api/v1/workflows/{workflow['id']}/steps/order", json={"step_ids": [b, a, c]}, headers=user.headers
    )
    assert reversed_again.status_code == 200
    assert await _orders(database, workflow["id"]) == [(1, "b"), (2, "a"), (3, "c")]


async def test_reorder_requires_every_step_exactly_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    workflow = await _three_steps(client, user)
    a, b, c = (step["id"] for step in workflow["steps"])
    url = f"/api/v1/workflows/{workflow['id']}/steps/order"

    for step_ids, expected in (
        ([a, b], "missing"),
        ([a, b, c, c], "more than once"),
        ([a, b, str(uuid.uuid4())], "not steps of this workflow"),
    ):
        response = await client.put(url, json={"step_ids": step_ids}, headers=user.headers)
        assert response.status_code == 422, step_ids
        assert any(expected in d["message"] for d in response.json()["error"]["details"]), response.json()
    not_ids = await client.put(url, json={"step_ids": ["x"]}, headers=user.headers)
    assert not_ids.status_code == 422
    assert await _orders(database, workflow["id"]) == [(1, "a"), (2, "b"), (3, "c")]
