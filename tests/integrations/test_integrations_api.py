"""Integrations through the API: one per service, credentials encrypted and never shown, configuration checked."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from autofy.connectors.catalog import catalog
from autofy.db import tables
from autofy.db.engine import Database
from autofy.security.crypto import CredentialCipher
from tests.api_fixtures import sign_up
from tests.workflows.api import connect, problem_fields

BOT_TOKEN = "123456:telegram-bot-token-value"


async def _stored_credentials(database: Database, integration_id: str) -> dict[str, object]:
    async with database.service_session() as session:
        stored = await session.scalar(
            select(tables.integrations.c.credentials).where(
                tables.integrations.c.id == uuid.UUID(integration_id)
            )
        )
    assert isinstance(stored, dict)
    return stored


async def test_create_encrypts_credentials_and_shows_only_which_fields_are_set(
    client: httpx.AsyncClient, database: Database, app: FastAPI
) -> None:
    user = await sign_up(client)

    response = await client.post(
        "/api/v1/integrations",
        json={"service_name": "telegram", "credentials": {"bot_token": f"  {BOT_TOKEN} "}},
        headers=user.headers,
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert BOT_TOKEN not in response.text
    assert created["service_name"] == "telegram"
    assert created["display_name"] == "Telegram"
    assert created["status"] == "active"
    assert created["credential_fields"] == ["bot_token"]
    stored = await _stored_credentials(database, created["id"])
    assert BOT_TOKEN not in json.dumps(stored)
    cipher = CredentialCipher.from_settings(app.state.settings)
    decrypted = cipher.decrypt(stored, user_id=user.user_id, integration_id=uuid.UUID(created["id"]))
    assert decrypted == {"bot_token": BOT_TOKEN}


async def test_one_integration_per_service(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await connect(client, user, "telegram", {"bot_token": BOT_TOKEN})

    again = await client.post(
        "/api/v1/integrations",
        json={"service_name": "telegram", "credentials": {"bot_token": "other"}},
        headers=user.headers,
    )

    assert again.status_code == 409
    assert "already have a telegram integration" in again.json()["error"]["message"]
    other_user = await sign_up(client)
    await connect(client, other_user, "telegram", {"bot_token": BOT_TOKEN})


async def test_create_rejects_bad_credentials_configuration_and_bodies(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    cases: list[tuple[dict[str, object], list[str]]] = [
        ({"service_name": "telegram", "credentials": {}}, ["credentials.bot_token"]),
        ({"service_name": "telegram", "credentials": {"bot_token": "   "}}, ["credentials.bot_token"]),
        (
            {"service_name": "telegram", "credentials": {"bot_token": "x", "password": "p"}},
            ["credentials.password"],
        ),
        ({"service_name": "myspace", "credentials": {"token": "x"}}, ["service_name"]),
        ({"service_name": "telegram", "credentials": {"bot_token": 5}}, ["credentials.bot_token"]),
        ({"service_name": "telegram"}, ["credentials"]),
        (
            {
                "service_name": "openai",
                "credentials": {"api_key": "k"},
                "configuration": {"api_base": "ftp://x"},
            },
            ["configuration.api_base"],
        ),
        (
            {
                "service_name": "openai",
                "credentials": {"api_key": "k"},
                "configuration": {"api_bsae": "http://x"},
            },
            ["configuration.api_bsae"],
        ),
        (
            {
                "service_name": "openai",
                "credentials": {"api_key": "k"},
                "configuration": {"api_base": "http://user:pw@host"},
            },
            ["configuration.api_base"],
        ),
    ]
    for body, fields in cases:
        response = await client.post("/api/v1/integrations", json=body, headers=user.headers)
        assert response.status_code == 422, (body, response.text)
        assert problem_fields(response) == fields, (body, response.json())
    malformed = await client.post(
        "/api/v1/integrations", content=b"{", headers=user.headers | {"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    listed = await client.get("/api/v1/integrations", headers=user.headers)
    assert listed.json() == []


async def test_list_get_update_and_delete(
    client: httpx.AsyncClient, database: Database, app: FastAPI
) -> None:
    user = await sign_up(client)
    telegram = await connect(client, user, "telegram", {"bot_token": BOT_TOKEN})
    notion = await connect(
        client,
        user,
        "notion",
        {"token": "ntn_first"},
        {"api_base": "http://127.0.0.1:9", "timeout_seconds": 5},
    )

    listed = await client.get("/api/v1/integrations", headers=user.headers)
    assert [i["service_name"] for i in listed.json()] == ["notion", "telegram"]
    found = await client.get(f"/api/v1/integrations/{notion['id']}", headers=user.headers)
    assert found.json()["configuration"] == {"api_base": "http://127.0.0.1:9", "timeout_seconds": 5.0}

    renamed = await client.patch(
        f"/api/v1/integrations/{notion['id']}",
        json={"display_name": "Team wiki", "credentials": {"token": "ntn_second"}, "configuration": {}},
        headers=user.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["display_name"], renamed.json()["configuration"]) == ("Team wiki", {})
    assert "ntn_second" not in renamed.text
    cipher = CredentialCipher.from_settings(app.state.settings)
    stored = await _stored_credentials(database, notion["id"])
    assert cipher.decrypt(stored, user_id=user.user_id, integration_id=uuid.UUID(notion["id"])) == {
        "token": "ntn_second"
    }
    for body in ({"credentials": {"nope": "x"}}, {"service_name": "gmail"}, {"display_name": ""}):
        bad = await client.patch(f"/api/v1/integrations/{notion['id']}", json=body, headers=user.headers)
        assert bad.status_code == 422, body

    deleted = await client.delete(f"/api/v1/integrations/{telegram['id']}", headers=user.headers)
    assert deleted.status_code == 204
    for response in (
        await client.get(f"/api/v1/integrations/{telegram['id']}", headers=user.headers),
        await client.delete(f"/api/v1/integrations/{telegram['id']}", headers=user.headers),
        await client.patch(
            f"/api/v1/integrations/{uuid.uuid4()}", json={"display_name": "x"}, headers=user.headers
        ),
        await client.post(f"/api/v1/integrations/{uuid.uuid4()}/test", headers=user.headers),
    ):
        assert response.status_code == 404


async def test_integration_templates_are_listed(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.get("/api/v1/integration-templates", headers=user.headers)

    assert response.status_code == 200
    services = {template["service_name"] for template in response.json()}
    assert services == {"gmail", "notion", "telegram", "openai", "anthropic", "gemini", "openrouter", "http"}
    gmail = next(t for t in response.json() if t["service_name"] == "gmail")
    assert "https://www.googleapis.com/auth/gmail.send" in gmail["required_scopes"]
    assert (await client.get("/api/v1/integration-templates")).status_code == 401


async def test_changes_are_audited_with_field_names_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    created = await connect(client, user, "telegram", {"bot_token": BOT_TOKEN})
    await client.patch(
        f"/api/v1/integrations/{created['id']}",
        json={"credentials": {"bot_token": "new-" + BOT_TOKEN}},
        headers=user.headers,
    )
    await client.delete(f"/api/v1/integrations/{created['id']}", headers=user.headers)

    async with database.service_session() as session:
        rows = (
            await session.execute(
                select(tables.audit_logs.c.action, tables.audit_logs.c.details)
                .where(tables.audit_logs.c.resource_id == uuid.UUID(created["id"]))
                .order_by(tables.audit_logs.c.created_at)
            )
        ).all()
    assert [row.action for row in rows] == ["integration.create", "integration.update", "integration.delete"]
    assert rows[0].details["fields"] == ["bot_token"]
    assert BOT_TOKEN not in json.dumps([row.details for row in rows])


def _sample_credentials(named: set[str]) -> dict[str, str]:
    """A value for every field a template names; HTTP credentials take one scheme's fields only."""
    if "scheme" in named:
        return {"scheme": "bearer", "token": "x"}
    return dict.fromkeys(named, "x")


async def test_every_integration_template_matches_the_catalog(client: httpx.AsyncClient) -> None:
    """A client that fills in a template's credential fields gets a working integration."""
    user = await sign_up(client)
    templates = (await client.get("/api/v1/integration-templates", headers=user.headers)).json()

    connectable = {c.service_name for c in catalog().connectors if c.requires_integration}
    assert {template["service_name"] for template in templates} == connectable
    for template in templates:
        connector = catalog().connector(template["service_name"])
        configuration = template["configuration"]
        named = {field["name"] for field in configuration["credential_fields"]}
        declared = {field.name for field in connector.auth.fields}
        required = {field.name for field in connector.auth.fields if field.required}
        assert configuration["auth_kind"] == connector.auth.kind, template["service_name"]
        assert required <= named <= declared, template["service_name"]
        assert configuration["api_base"] == connector.default_api_base, template["service_name"]
        credentials = _sample_credentials(named)
        created = await client.post(
            "/api/v1/integrations",
            json={"service_name": template["service_name"], "credentials": credentials},
            headers=user.headers,
        )
        assert created.status_code == 201, created.text
        assert created.json()["credential_fields"] == sorted(credentials)
