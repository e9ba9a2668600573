"""What saving refuses (unsafe or broken) and what only activation refuses (incomplete), via the API."""

from __future__ import annotations

import httpx

from tests.api_fixtures import sign_up
from tests.workflows.api import create_workflow, format_step, problem_fields, telegram_step


async def test_a_secret_in_a_step_is_refused_even_in_a_draft(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    http_step = {
        "service_name": "core",
        "action_name": "http_request",
        "configuration": {"url": "https://api.example.com", "headers": {"X-API-Key": "live-1234"}},
    }
    body = {"name": "Leaky", "steps": [format_step(), http_step]}

    created = await client.post("/api/v1/workflows", json=body, headers=user.headers)
    imported = await client.post("/api/v1/workflows/import", json=body, headers=user.headers)

    for response in (created, imported):
        assert response.status_code == 422, response.text
        assert problem_fields(response) == ["steps.1.configuration.headers.X-API-Key"]
        assert "HTTP credentials integration" in response.text
        assert "live-1234" not in response.text
    listed = await client.get("/api/v1/workflows", headers=user.headers)
    assert listed.json()["total"] == 0


async def test_an_incomplete_draft_saves_and_activation_names_what_is_missing(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(
        client, user, steps=[format_step("{{ steps.summarize.text }}"), telegram_step(chat_id="")]
    )

    validation = await client.get(f"/api/v1/workflows/{workflow['id']}/validation", headers=user.headers)
    activated = await client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=user.headers)

    assert validation.json()["valid"] is False
    fields = {p["field"]: p["message"] for p in validation.json()["problems"]}
    assert "steps.summarize is not an earlier step" in fields["steps.0.configuration.text"]
    assert "required" in fields["steps.1.configuration.chat_id"]
    assert "Connect telegram" in fields["steps.1.service_name"]
    assert activated.status_code == 422
    assert set(problem_fields(activated)) == set(fields)


async def test_unknown_trigger_keys_and_unsafe_templates_are_refused_at_save(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    cases = [
        ({"trigger_type": "manual", "trigger_config": {"run_as": "admin"}}, "trigger_config.run_as"),
        ({"steps": [format_step("{{ trigger.__class__ }}")]}, "steps.0.configuration.text"),
        (
            {"steps": [format_step("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")]},
            "steps.0.configuration.text",
        ),
        ({"steps": [format_step("{{ trigger.name | shout }}")]}, "steps.0.configuration.text"),
    ]
    for fields, field in cases:
        body = {"name": "Bad", "steps": [format_step()]} | fields
        response = await client.post("/api/v1/workflows", json=body, headers=user.headers)
        assert response.status_code == 422, response.text
        assert problem_fields(response) == [field]


async def test_an_edit_that_adds_a_secret_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    workflow = await create_workflow(client, user)
    step_id = workflow["steps"][0]["id"]
    token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"

    changed = await client.patch(
        f"/api/v1/workflows/{workflow['id']}/steps/{step_id}",
        json={"configuration": {"operation": "upper", "text": f"bot{token}/sendMessage"}},
        headers=user.headers,
    )
    added = await client.post(
        f"/api/v1/workflows/{workflow['id']}/steps",
        json=format_step(f"bot{token}"),
        headers=user.headers,
    )
    retriggered = await client.patch(
        f"/api/v1/workflows/{workflow['id']}",
        json={"trigger_type": "webhook", "trigger_config": {"integration_id": "x"}},
        headers=user.headers,
    )

    assert changed.status_code == added.status_code == retriggered.status_code == 422
    assert "Telegram bot token" in changed.text
    assert token not in changed.text + added.text
    current = await client.get(f"/api/v1/workflows/{workflow['id']}", headers=user.headers)
    assert current.json()["steps"] == workflow["steps"]
    assert current.json()["trigger_type"] == "manual"


async def test_an_unknowable_field_is_a_warning_that_does_not_block(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    set_fields = {
        "service_name": "core",
        "action_name": "set_fields",
        "configuration": {"fields": "{{ trigger }}"},
    }
    workflow = await create_workflow(
        client, user, steps=[set_fields, format_step("{{ steps.set_fields.name }}")]
    )

    validation = await client.get(f"/api/v1/workflows/{workflow['id']}/validation", headers=user.headers)

    assert validation.json()["valid"] is True
    [warning] = validation.json()["warnings"]
    assert warning["field"] == "steps.1.configuration.text"
