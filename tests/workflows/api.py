"""Shared arrangements of the workflow, integration, template and execution API tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api_fixtures import SignedUpUser


def format_step(text: str = "{{ trigger.name }}", **overrides: Any) -> dict[str, Any]:
    """A built-in step that needs no integration."""
    step: dict[str, Any] = {
        "step_type": "action",
        "service_name": "core",
        "action_name": "format_text",
        "configuration": {"operation": "upper", "text": text},
    }
    return step | overrides


def telegram_step(chat_id: str = "42", **overrides: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "step_type": "action",
        "service_name": "telegram",
        "action_name": "send_message",
        "configuration": {"chat_id": chat_id, "text": "Hello {{ trigger.name }}"},
    }
    return step | overrides


async def create_workflow(
    client: httpx.AsyncClient, user: SignedUpUser, *, steps: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": "Greeting",
        "trigger_type": "manual",
        "steps": steps if steps is not None else [format_step()],
    }
    response = await client.post("/api/v1/workflows", json=body | fields, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def connect(
    client: httpx.AsyncClient,
    user: SignedUpUser,
    service_name: str,
    credentials: dict[str, str],
    configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/integrations",
        json={"service_name": service_name, "credentials": credentials, "configuration": configuration or {}},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def problem_fields(response: httpx.Response) -> list[str]:
    return [detail["field"] for detail in response.json()["error"]["details"]]


def as_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
