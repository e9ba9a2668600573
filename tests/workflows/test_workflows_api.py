"""Workflows through the API: create, list, read, change, delete, duplicate, export and import."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.workflows import service as workflows_service
from tests.api_fixtures import sign_up
from tests.workflows.api import create_workflow, format_step, problem_fields


async def _steps_in_database(database: Database, workflow_id: str) -> list[tuple[int, str]]:
    async with database.service_session() as session:
        rows = await session.execute(
            select(tables.workflow_steps.c.step_order, tables.workflow_steps.c.configuration)
            .where(tables.workflow_steps.c.workflow_id == uuid.UUID(workflow_id))
            .order_by(tables.workflow_steps.c.step_order)
        )
        return [(order, configuration.get("text", "")) for order, configuration in rows.all()]


async def test_create_saves_the_workflow_and_its_steps_as_a_draft(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    body = {
        "name": "  Shout  ",
        "description": "Upper-case a name",
        "trigger_type": "webhook",
        "tags": ["demo"],
        "steps": [format_step("first"), format_step("second")],
    }

    response = await client.post("/api/v1/workflows", json=body, headers=user.headers)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Shout"
    assert created["status"] == "draft"
    assert created["tags"] == ["demo"]
    assert [(s["step_order"], s["configuration"]["text"]) for s in created["steps"]] == [
        (1, "first"),
        (2, "second"),
    ]
    assert created["steps"][0]["error_handling"] == {
        "retry": True,
        "max_retries": 3,
        "continue_on_error": False,
    }
    assert await _steps_in_database(database, created["id"]) == [(1, "first"), (2, "second")]
    async with database.service_session() as session:
        owner = await session.scalar(
            select(tables.workflows.c.user_id).where(tables.workflows.c.id == uuid.UUID(created["id"]))
        )
    assert owner == user.user_id


async def test_create_orders_steps_by_their_step_order(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    steps = [format_step("second", step_order=2), format_step("first", step_order=1)]

    created = await create_workflow(client, user, steps=steps)

    assert [s["configuration"]["text"] for s in created["steps"]] == ["first", "second"]


async def test_a_draft_may_have_incomplete_configuration(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    created = await create_workflow(client, user, steps=[format_step(configuration={})])

    assert created["steps"][0]["configuration"] == {}


async def test_create_refuses_unknown_services_and_actions_even_for_drafts(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    steps = [
        format_step(service_name="nosuchservice"),
        format_step(action_name="format_txt"),
        format_step(step_type="trigger"),
    ]

    response = await client.post(
        "/api/v1/workflows", json={"name": "Bad", "steps": steps}, headers=user.headers
    )

    assert response.status_code == 422
    assert problem_fields(response) == ["steps.0.service_name", "steps.1.action_name", "steps.2.step_type"]
    assert "format_text" in response.json()["error"]["details"][1]["message"]  # did you mean
    async with database.service_session() as session:
        assert await session.scalar(select(tables.workflows.c.id)) is None


async def test_create_rejects_malformed_bodies(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    headers = user.headers | {"Content-Type": "application/json"}
    cases: list[tuple[Any, str]] = [
        ({"steps": []}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "trigger_type": "sometimes"}, "trigger_type"),
        ({"name": "x", "tags": "not-a-list"}, "tags"),
        ({"name": "x", "steps": [{"service_name": "core"}]}, "steps.0.action_name"),
        ({"name": "x", "steps": [format_step(step_order=1), format_step()]}, "steps"),
        (
            {"name": "x", "steps": [format_step(error_handling={"max_retries": "many"})]},
            "steps.0.error_handling.max_retries",
        ),
        ({"name": "x", "status": "active"}, "status"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/workflows", json=body, headers=headers)
        assert response.status_code == 422, body
        assert any(f.startswith(field) for f in problem_fields(response)), (body, response.json())

    malformed = await client.post("/api/v1/workflows", content=b'{"name": ', headers=headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_failed"


async def test_get_returns_the_workflow_with_its_steps_and_404_for_unknown_ids(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    created = await create_workflow(client, user)

    found = await client.get(f"/api/v1/workflows/{created['id']}", headers=user.headers)
    missing = await client.get(f"/api/v1/workflows/{uuid.uuid4()}", headers=user.headers)
    malformed = await client.get("/api/v1/workflows/not-a-uuid", headers=user.headers)
    anonymous = await client.get(f"/api/v1/workflows/{created['id']}")

    assert found.status_code == 200
    assert found.json() == created
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert malformed.status_code == 422
    assert anonymous.status_code == 401


async def test_list_filters_searches_sorts_and_paginates(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    names = ["Alpha report", "beta 100% done", "Gamma report", "Delta_x", "Deltaxx"]
    ids = {}
    for name in names:
        ids[name] = (
            await create_workflow(client, user, name=name, tags=["report"] if "report" in name else [])
        )["id"]
    activated = await client.post(f"/api/v1/workflows/{ids['Gamma report']}/archive", headers=user.headers)
    assert activated.status_code == 200

    async def listed(**params: Any) -> dict[str, Any]:
        response = await client.get("/api/v1/workflows", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    by_name = await listed(sort="name", order="asc")
    assert [w["name"] for w in by_name["items"]] == sorted(names, key=str)
    assert by_name["total"] == 5
    assert [w["name"] for w in (await listed(tag="report"))["items"]] == ["Gamma report", "Alpha report"]
    assert [w["name"] for w in (await listed(status="archived"))["items"]] == ["Gamma report"]
    assert [w["name"] for w in (await listed(search="REPORT", sort="name", order="asc"))["items"]] == [
        "Alpha report",
        "Gamma report",
    ]
    # LIKE wildcards in the search are matched literally.
    assert [w["name"] for w in (await listed(search="100%"))["items"]] == ["beta 100% done"]
    assert [w["name"] for w in (await listed(search="Delta_"))["items"]] == ["Delta_x"]

    first = await listed(sort="name", order="desc", limit=2)
    assert first["total"] == 5
    assert first["next_cursor"] is not None
    second = await listed(sort="name", order="desc", limit=2, cursor=first["next_cursor"])
    third = await listed(sort="name", order="desc", limit=2, cursor=second["next_cursor"])
    walked = [w["name"] for page in (first, second, third) for w in page["items"]]
    assert walked == sorted(names, key=str, reverse=True)
    assert third["next_cursor"] is None
    offset_page = await listed(sort="name", order="desc", limit=2, offset=2)
    assert offset_page["items"] == second["items"]


async def test_list_rejects_bad_parameters(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await create_workflow(client, user)
    first = await client.get("/api/v1/workflows", params={"limit": 1, "sort": "name"}, headers=user.headers)
    cursor = first.json()["next_cursor"]

    for params in (
        {"limit": 0},
        {"limit": 1000},
        {"offset": -1},
        {"sort": "owner"},
        {"order": "sideways"},
        {"status": "running"},
        {"cursor": "!!!not-a-cursor"},
        {"cursor": cursor or "x", "sort": "created_at"},
    ):
        response = await client.get("/api/v1/workflows", params=params, headers=user.headers)
        assert response.status_code == 422, params


async def test_update_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    created = await create_workflow(client, user, description="before", tags=["a"])

    response = await client.patch(
        f"/api/v1/workflows/{created['id']}",
        json={"name": "Renamed", "tags": ["b", "c"]},
        headers=user.headers,
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["description"], updated["tags"]) == ("Renamed", "before", ["b", "c"])
    assert updated["updated_at"] > created["updated_at"]
    for body in ({"name": None}, {"name": ""}, {"status": "active"}, {"trigger_type": "cron"}):
        bad = await client.patch(f"/api/v1/workflows/{created['id']}", json=body, headers=user.headers)
        assert bad.status_code == 422, body
    missing = await client.patch(
        f"/api/v1/workflows/{uuid.uuid4()}", json={"name": "x"}, headers=user.headers
    )
    assert missing.status_code == 404


async def test_delete_removes_the_workflow_and_its_steps(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    created = await create_workflow(client, user)

    deleted = await client.delete(f"/api/v1/workflows/{created['id']}", headers=user.headers)
    again = await client.delete(f"/api/v1/workflows/{created['id']}", headers=user.headers)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert await _steps_in_database(database, created["id"]) == []


async def test_duplicate_copies_as_a_draft_with_a_copy_suffix(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    original = await create_workflow(
        client, user, name="Original", steps=[format_step("one"), format_step("two")], tags=["x"]
    )
    await client.post(f"/api/v1/workflows/{original['id']}/archive", headers=user.headers)

    response = await client.post(f"/api/v1/workflows/{original['id']}/duplicate", headers=user.headers)

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != original["id"]
    assert (copy["name"], copy["status"], copy["tags"]) == ("Original (copy)", "draft", ["x"])
    assert [s["configuration"]["text"] for s in copy["steps"]] == ["one", "two"]
    assert {s["id"] for s in copy["steps"]}.isdisjoint({s["id"] for s in original["steps"]})
    unknown = await client.post(f"/api/v1/workflows/{uuid.uuid4()}/duplicate", headers=user.headers)
    assert unknown.status_code == 404


async def test_export_and_import_round_trip_with_new_ids_and_blanked_secrets(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    http_step = {
        "service_name": "core",
        "action_name": "http_request",
        "configuration": {
            "method": "GET",
            "url": "https://api.example.com/items",
            # A token passed on from the delivery: a template, since a stored token is refused.
            "headers": {"Authorization": "Bearer {{ trigger.body.token }}", "Accept": "application/json"},
        },
    }
    original = await create_workflow(
        client,
        user,
        name="Hooked",
        trigger_type="webhook",
        trigger_config={"signing_secret": "whsec-abc"},
        steps=[format_step("one"), http_step],
    )

    exported = await client.get(f"/api/v1/workflows/{original['id']}/export", headers=user.headers)

    assert exported.status_code == 200
    document = exported.json()
    assert "id" not in document
    assert document["trigger_config"] == {"signing_secret": ""}
    assert document["steps"][1]["configuration"]["headers"] == {
        "Authorization": "",
        "Accept": "application/json",
    }
    assert "trigger.body.token" not in exported.text
    assert "whsec-abc" not in exported.text
    assert [s["step_order"] for s in document["steps"]] == [1, 2]

    imported = await client.post("/api/v1/workflows/import", json=document, headers=user.headers)

    assert imported.status_code == 201, imported.text
    copy = imported.json()
    assert copy["id"] != original["id"]
    assert (copy["name"], copy["status"], copy["trigger_type"]) == ("Hooked", "draft", "webhook")
    assert [s["action_name"] for s in copy["steps"]] == ["format_text", "http_request"]
    assert {s["id"] for s in copy["steps"]}.isdisjoint({s["id"] for s in original["steps"]})
    with_ids = await client.post(
        "/api/v1/workflows/import", json=document | {"id": original["id"]}, headers=user.headers
    )
    assert with_ids.status_code == 422


async def test_every_change_is_audited_without_secrets(client: httpx.AsyncClient, database: Database) -> None:
    user = await sign_up(client)
    created = await create_workflow(client, user)
    await client.patch(f"/api/v1/workflows/{created['id']}", json={"name": "New"}, headers=user.headers)
    await client.delete(f"/api/v1/workflows/{created['id']}", headers=user.headers)

    async with database.service_session() as session:
        rows = (
            await session.execute(
                select(tables.audit_logs.c.action, tables.audit_logs.c.ip_address)
                .where(tables.audit_logs.c.resource_id == uuid.UUID(created["id"]))
                .order_by(tables.audit_logs.c.created_at)
            )
        ).all()
    assert [row.action for row in rows] == ["workflow.create", "workflow.update", "workflow.delete"]
    assert all(str(row.ip_address) == "198.51.100.7" for row in rows)


async def test_a_read_only_api_key_can_read_but_not_change_workflows(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "dashboard", "permissions": ["read"]}, headers=user.headers
    )
    assert created.status_code == 201, created.text
    key_headers = {"X-API-Key": created.json()["key"]}

    read = await client.get(f"/api/v1/workflows/{workflow['id']}", headers=key_headers)
    change = await client.patch(
        f"/api/v1/workflows/{workflow['id']}", json={"name": "x"}, headers=key_headers
    )
    activate = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=key_headers)

    assert read.status_code == 200
    assert change.status_code == 403
    assert activate.status_code == 403


async def test_the_openapi_document_describes_every_route_and_its_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]

    for path, method in (
        ("/api/v1/workflows", "post"),
        ("/api/v1/workflows/{workflow_id}", "get"),
        ("/api/v1/workflows/{workflow_id}/activate", "post"),
        ("/api/v1/workflows/{workflow_id}/steps/order", "put"),
        ("/api/v1/integrations/{integration_id}/test", "post"),
        ("/api/v1/templates/{template_id}/instantiate", "post"),
        ("/api/v1/executions/{execution_id}", "get"),
    ):
        responses = paths[path][method]["responses"]
        assert "404" in responses or path == "/api/v1/workflows", path
        assert "422" in responses, path
        assert responses["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    assert "409" in paths["/api/v1/workflows/{workflow_id}/activate"]["post"]["responses"]
    assert "/api/v1/dashboard" in paths


async def test_cursor_pages_walk_rows_whose_sort_value_is_null(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    ids = [(await create_workflow(client, user, name=f"w{n}"))["id"] for n in range(5)]
    # The engine sets last_executed_at; two workflows never ran.
    async with database.service_session() as session:
        for minutes, workflow_id in zip((30, 10, 20), ids[:3], strict=True):
            await session.execute(
                tables.workflows.update()
                .where(tables.workflows.c.id == uuid.UUID(workflow_id))
                .values(last_executed_at=func.now() - timedelta(minutes=minutes))
            )

    for order, expected_ran in (("desc", [ids[1], ids[2], ids[0]]), ("asc", [ids[0], ids[2], ids[1]])):
        walked: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": "last_executed_at", "order": order, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/workflows", params=params, headers=user.headers)).json()
            walked += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert walked[:3] == expected_ran, order
        assert sorted(walked[3:]) == sorted(ids[3:]), order  # never ran: last, in either order


async def test_workflow_names_are_the_callers_own_by_name_up_to_the_limit(
    client: httpx.AsyncClient, database: Database
) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    for name in ("Beta", "Alpha", "Gamma"):
        await create_workflow(client, alice, name=name)
    await create_workflow(client, bob, name="Bob's own")

    async with database.user_session(user_claims(alice.user_id)) as session:
        every = await workflows_service.list_workflow_names(session)
        first_two = await workflows_service.list_workflow_names(session, limit=2)

    assert [name for _, name in every] == ["Alpha", "Beta", "Gamma"]
    assert first_two == every[:2]
