"""HTTP credentials integrations through the API: checked per scheme, several per user, tested
against their api_base, and the only way an HTTP step gets a secret."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api_fixtures import sign_up
from tests.fakes.http_echo import HttpEcho
from tests.workflows.api import connect, create_workflow, problem_fields


@pytest.fixture
def echo() -> Iterator[HttpEcho]:
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


async def test_credentials_must_fit_their_scheme(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    cases = [
        ({"scheme": "bearer"}, ["credentials.token"]),
        ({"scheme": "cookie", "value": "x"}, ["credentials.scheme"]),
        ({"scheme": "basic", "username": "ada", "password": "pw", "token": "t"}, ["credentials.token"]),
    ]
    for credentials, fields in cases:
        response = await client.post(
            "/api/v1/integrations",
            json={"service_name": "http", "credentials": credentials},
            headers=user.headers,
        )
        assert response.status_code == 422, response.text
        assert problem_fields(response) == fields


async def test_several_http_integrations_are_tested_against_their_api_base(
    client: httpx.AsyncClient, echo: HttpEcho
) -> None:
    user = await sign_up(client)
    good = await connect(
        client, user, "http", {"scheme": "bearer", "token": "t1"}, {"api_base": f"{echo.url}/echo"}
    )
    refused = await connect(
        client,
        user,
        "http",
        {"scheme": "header", "name": "X-Key", "value": "k"},
        {"api_base": f"{echo.url}/status/401"},
    )

    passed = await client.post(f"/api/v1/integrations/{good['id']}/test", headers=user.headers)
    failed = await client.post(f"/api/v1/integrations/{refused['id']}/test", headers=user.headers)

    assert (passed.json()["ok"], passed.json()["status"]) == (True, "active")
    assert echo.requests_to("/echo")[0].headers["authorization"] == "Bearer t1"
    assert (failed.json()["ok"], failed.json()["status"]) == (False, "error")
    assert echo.requests_to("/status/401")[0].headers["x-key"] == "k"
    assert "t1" not in passed.text


async def test_a_step_may_name_only_its_owners_http_integration(client: httpx.AsyncClient) -> None:
    owner, other = await sign_up(client), await sign_up(client)
    integration = await connect(client, owner, "http", {"scheme": "bearer", "token": "t1"})
    telegram = await connect(client, owner, "telegram", {"bot_token": "123456:ABC"})

    def step(integration_id: str) -> dict[str, object]:
        return {
            "service_name": "core",
            "action_name": "http_request",
            "configuration": {"url": "https://api.example.com", "integration_id": integration_id},
        }

    mine = await create_workflow(client, owner, steps=[step(integration["id"])])
    borrowed = await client.post(
        "/api/v1/workflows", json={"name": "x", "steps": [step(integration["id"])]}, headers=other.headers
    )
    wrong_service = await client.post(
        "/api/v1/workflows", json={"name": "x", "steps": [step(telegram["id"])]}, headers=owner.headers
    )

    assert mine["steps"][0]["configuration"]["integration_id"] == integration["id"]
    exported = await client.get(f"/api/v1/workflows/{mine['id']}/export", headers=owner.headers)
    assert exported.json()["steps"][0]["configuration"]["integration_id"] is None  # theirs to choose
    imported = await client.post("/api/v1/workflows/import", json=exported.json(), headers=other.headers)
    assert imported.status_code == 201, imported.text
    assert borrowed.status_code == wrong_service.status_code == 422
    assert (
        problem_fields(borrowed) == problem_fields(wrong_service) == ["steps.0.configuration.integration_id"]
    )
