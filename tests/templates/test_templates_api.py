"""Workflow templates through the API: browse, read, and instantiate into a draft of the caller."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.workflows.api import connect, problem_fields

EMAIL_TO_NOTION = "20000000-0000-4000-8000-000000000001"
WEBHOOK_TO_TELEGRAM = "20000000-0000-4000-8000-000000000004"


async def _use_count(database: Database, template_id: str) -> int:
    async with database.service_session() as session:
        count = await session.scalar(
            select(tables.workflow_templates.c.use_count).where(
                tables.workflow_templates.c.id == uuid.UUID(template_id)
            )
        )
    return int(count or 0)


async def test_list_filters_by_category_difficulty_featured_integration_and_search(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)

    async def names(**params: object) -> list[str]:
        response = await client.get("/api/v1/templates", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        return [template["name"] for template in response.json()["items"]]

    everything = await client.get("/api/v1/templates", headers=user.headers)
    assert everything.json()["total"] == 6
    assert everything.json()["items"][0]["is_featured"] is True
    assert set(await names(integration="notion")) == {
        "Save new emails to Notion",
        "Daily email briefing",
        "Extract notes into Notion",
    }
    assert await names(category="notifications") == ["Webhook alerts to Telegram"]
    assert set(await names(difficulty="intermediate")) == {
        "Daily email briefing",
        "Flag urgent support emails",
    }
    assert len(await names(featured=True)) == 3
    assert await names(search="URGENT") == ["Flag urgent support emails"]
    assert await names(search="%") == []
    page = await client.get("/api/v1/templates", params={"limit": 2, "offset": 2}, headers=user.headers)
    assert len(page.json()["items"]) == 2
    for params in ({"difficulty": "expert"}, {"limit": 0}, {"featured": "maybe"}):
        assert (await client.get("/api/v1/templates", params=params, headers=user.headers)).status_code == 422


async def test_get_returns_the_document_and_inputs(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    found = await client.get(f"/api/v1/templates/{EMAIL_TO_NOTION}", headers=user.headers)
    missing = await client.get(f"/api/v1/templates/{uuid.uuid4()}", headers=user.headers)

    assert found.status_code == 200
    template = found.json()
    assert template["template_data"]["trigger_type"] == "email"
    assert [item["key"] for item in template["inputs"]] == ["gmail_query", "notion_database_id"]
    assert missing.status_code == 404


async def test_instantiate_fills_inputs_and_counts_the_use(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    before = await _use_count(database, EMAIL_TO_NOTION)

    response = await client.post(
        f"/api/v1/templates/{EMAIL_TO_NOTION}/instantiate",
        json={"inputs": {"notion_database_id": "db-123", "gmail_query": "from:bank"}, "name": "Bank mail"},
        headers=user.headers,
    )

    assert response.status_code == 201, response.text
    workflow = response.json()
    assert (workflow["name"], workflow["status"], workflow["trigger_type"]) == ("Bank mail", "draft", "email")
    assert workflow["steps"][0]["configuration"]["query"] == "from:bank"
    assert workflow["steps"][1]["configuration"]["parent_database_id"] == "db-123"
    assert await _use_count(database, EMAIL_TO_NOTION) == before + 1
    mine = await client.get(f"/api/v1/workflows/{workflow['id']}", headers=user.headers)
    assert mine.status_code == 200


async def test_instantiate_names_missing_and_unknown_inputs(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    url = f"/api/v1/templates/{EMAIL_TO_NOTION}/instantiate"

    missing = await client.post(url, json={"inputs": {"gmail_query": "x"}}, headers=user.headers)
    blank = await client.post(url, json={"inputs": {"notion_database_id": "  "}}, headers=user.headers)
    unknown = await client.post(
        url, json={"inputs": {"notion_database_id": "d", "colour": "red"}}, headers=user.headers
    )
    wrong_type = await client.post(url, json={"inputs": {"notion_database_id": 5}}, headers=user.headers)
    not_object = await client.post(url, json={"inputs": ["x"]}, headers=user.headers)
    no_template = await client.post(
        f"/api/v1/templates/{uuid.uuid4()}/instantiate", json={"inputs": {}}, headers=user.headers
    )

    assert missing.status_code == 422
    assert problem_fields(missing) == ["inputs.notion_database_id"]
    assert "Notion database" in missing.json()["error"]["details"][0]["message"]
    assert problem_fields(blank) == ["inputs.notion_database_id"]
    assert problem_fields(unknown) == ["inputs.colour"]
    assert problem_fields(wrong_type) == ["inputs.notion_database_id"]
    assert not_object.status_code == 422
    assert no_template.status_code == 404
    assert await _use_count(database, EMAIL_TO_NOTION) == 0
    workflows = await client.get("/api/v1/workflows", headers=user.headers)
    assert workflows.json()["total"] == 0


async def test_an_instantiated_template_passes_validation_once_integrations_exist(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    created = await client.post(
        f"/api/v1/templates/{WEBHOOK_TO_TELEGRAM}/instantiate",
        json={"inputs": {"telegram_chat_id": "-100200300"}},
        headers=user.headers,
    )
    workflow_id = created.json()["id"]
    before = await client.get(f"/api/v1/workflows/{workflow_id}/validation", headers=user.headers)
    assert before.json()["valid"] is False
    assert [p["field"] for p in before.json()["problems"]] == ["steps.0.service_name"]

    await connect(client, user, "telegram", {"bot_token": "123456:ABC"})
    after = await client.get(f"/api/v1/workflows/{workflow_id}/validation", headers=user.headers)
    activated = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=user.headers)

    assert after.json() == {"valid": True, "problems": [], "warnings": []}
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"


async def test_templates_need_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/templates")).status_code == 401
    assert (await client.post(f"/api/v1/templates/{EMAIL_TO_NOTION}/instantiate", json={})).status_code == 401


CREDENTIALS = {
    "gmail": {
        "client_id": "id.apps.googleusercontent.com",
        "client_secret": "secret",
        "refresh_token": "1//r",
    },
    "notion": {"token": "ntn_token"},
    "telegram": {"bot_token": "123456:ABC"},
    "openai": {"api_key": "sk-test"},
}
REQUIRED_INPUT_VALUES = {
    "notion_database_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "telegram_chat_id": "-1001",
}


SEED_TEMPLATES = [f"20000000-0000-4000-8000-00000000000{n}" for n in range(1, 7)]


async def test_the_seed_templates_are_the_ones_checked_below(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    listed = (await client.get("/api/v1/templates", params={"limit": 100}, headers=user.headers)).json()
    assert sorted(template["id"] for template in listed["items"]) == SEED_TEMPLATES


@pytest.mark.parametrize("template_id", SEED_TEMPLATES)
async def test_every_seed_template_instantiates_into_a_valid_draft_once_its_integrations_exist(
    client: httpx.AsyncClient, template_id: str
) -> None:
    user = await sign_up(client)
    template = (await client.get(f"/api/v1/templates/{template_id}", headers=user.headers)).json()
    inputs = {
        item["key"]: REQUIRED_INPUT_VALUES[item["key"]] for item in template["inputs"] if item["required"]
    }
    for service_name in template["required_integrations"]:
        await connect(client, user, service_name, CREDENTIALS[service_name])

    created = await client.post(
        f"/api/v1/templates/{template_id}/instantiate", json={"inputs": inputs}, headers=user.headers
    )

    assert created.status_code == 201, created.text
    validation = await client.get(
        f"/api/v1/workflows/{created.json()['id']}/validation", headers=user.headers
    )
    assert validation.json() == {"valid": True, "problems": [], "warnings": []}
