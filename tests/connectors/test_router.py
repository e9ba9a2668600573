"""The catalog API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from autofy.connectors.router import router
from autofy.error_handlers import install_error_handling


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handling(app, max_request_bytes=1_000_000)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://autofy") as client:
        yield client


async def test_the_whole_catalog(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/catalog")
    assert response.status_code == 200
    services = {s["service_name"]: s for s in response.json()["services"]}
    core = services["core"]
    assert core["auth"]["kind"] == "none"
    http = next(a for a in core["actions"] if a["name"] == "http_request")
    assert http["input_schema"]["required"] == ["url"]
    assert "status_code" in http["output_schema"]["properties"]


async def test_one_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/catalog/core")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Built-in steps"


async def test_one_action(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/catalog/core/filter")
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["step_type"]) == ("action", "condition")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/catalog/zzz", "unknown service 'zzz'"),
        ("/api/v1/catalog/gmial", "unknown service 'gmial'; did you mean 'gmail'?"),
        (
            "/api/v1/catalog/core/http_requests",
            "core has no action or trigger 'http_requests'; did you mean 'http_request'?",
        ),
        ("/api/v1/catalog/zzz/here", "unknown service 'zzz'"),
    ],
)
async def test_unknown_names_are_404_with_a_clear_message(
    client: httpx.AsyncClient, path: str, message: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": message, "details": []}
