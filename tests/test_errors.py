"""One error shape for the whole API: domain errors, validation, 404/405, 413, 500, and OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from autofy.app import create_app
from autofy.config import Settings
from autofy.errors import RateLimitedError
from tests.api_fixtures import BASE_URL, DEFAULT_PASSWORD, api_settings_for, sign_up
from tests.auth.helpers import assert_error

MAX_BYTES = 2048
INTERNAL_SECRET = "db-password-hunter2-internal"

probe_routes = APIRouter()


@probe_routes.get("/test-only/crash")
async def crash() -> None:
    raise RuntimeError(f"connection to postgres://admin:{INTERNAL_SECRET}@db failed")


@probe_routes.get("/test-only/slow-down")
async def slow_down() -> None:
    raise RateLimitedError(42)


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(
        database_url,
        max_request_bytes=MAX_BYTES,
    )


@pytest.fixture
def app(api_settings: Settings, database_url: str) -> FastAPI:
    application = create_app(api_settings, database_url)
    application.include_router(probe_routes)
    return application


@pytest.fixture
async def lenient_client(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the 500 response instead of the server's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


async def test_a_body_over_the_limit_by_content_length_gets_413(client: httpx.AsyncClient) -> None:
    payload = {"email": "a@example.com", "password": DEFAULT_PASSWORD, "full_name": "x" * MAX_BYTES}

    response = await client.post("/api/v1/auth/signup", json=payload)

    error = assert_error(response, 413, "payload_too_large")
    assert str(MAX_BYTES) in error["message"]


async def test_a_streamed_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"value": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    response = await client.put(
        "/api/v1/preferences/theme",
        content=chunks(),
        headers={**user.headers, "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")
    assert (await client.get("/api/v1/preferences/theme", headers=user.headers)).json()["value"] == "system"


async def test_a_streamed_body_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"value": '
        yield b'"dark"}'

    response = await client.put(
        "/api/v1/preferences/theme",
        content=chunks(),
        headers={**user.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text


async def test_unknown_routes_and_methods_use_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(await client.delete("/api/v1/auth/signin"), 405, "method_not_allowed")


async def test_rate_limited_errors_carry_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.get("/test-only/slow-down")

    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "42"


async def test_an_unexpected_error_is_a_500_that_discloses_nothing(
    lenient_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="autofy.errors"):
        response = await lenient_client.get("/test-only/crash")

    assert_error(response, 500, "internal_error")
    assert INTERNAL_SECRET not in response.text
    assert "RuntimeError" not in response.text
    assert any(record.exc_info for record in caplog.records), "the traceback is logged for operators"


async def test_the_database_being_away_is_a_503_to_retry_and_a_405_lists_every_method() -> None:
    closed = "postgresql://postgres@127.0.0.1:9/autofy"  # the discard port: nothing listens
    app = create_app(api_settings_for(closed), closed)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        away = await http.post(
            "/api/v1/auth/signin", json={"email": "a@example.com", "password": DEFAULT_PASSWORD}
        )
        wrong_method = await http.post("/api/v1/preferences/theme")
        # Webhook deliveries are started in batches (triggers.intake): the same answer, to retry.
        delivery = await http.post("/hooks/any-token", json={"n": 1})

    for answer in (away, delivery):
        assert_error(answer, 503, "database_unavailable")
        assert answer.headers["Retry-After"] == "5"
    assert_error(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["Allow"] == "DELETE, GET, PUT"


async def test_the_openapi_document_describes_security_and_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerAuth"]["description"],
    }
    assert schemes["ApiKeyAuth"]["in"] == "header"
    assert schemes["ApiKeyAuth"]["name"] == "X-API-Key"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    public = {
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/signin", "post"),
        ("/api/v1/auth/refresh", "post"),
    }
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    api_operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    expected = {
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/signin", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/signout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/profile", "get"),
        ("/api/v1/profile", "patch"),
        ("/api/v1/preferences", "get"),
        ("/api/v1/preferences/{key}", "get"),
        ("/api/v1/preferences/{key}", "put"),
        ("/api/v1/preferences/{key}", "delete"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/api-keys", "get"),
        ("/api/v1/api-keys/{key_id}", "delete"),
        ("/api/v1/audit-logs", "get"),
    }
    assert expected <= {(path, method) for path, method, _ in api_operations}
    for path, method, operation in api_operations:
        responses = operation["responses"]
        assert "500" in responses, (path, method)
        if (path, method) in public:
            assert "security" not in operation
        elif (path, method) in expected:
            assert {"BearerAuth": []} in operation["security"]
            assert {"ApiKeyAuth": []} in operation["security"]
            assert {"401", "403"} <= set(responses), (path, method)
        if "requestBody" in operation:
            assert {"413", "422"} <= set(responses), (path, method)
        for status, described in responses.items():
            if int(status) >= 400:
                assert described["content"]["application/json"]["schema"] == error_ref, (path, method, status)
    assert "429" in document["paths"]["/api/v1/auth/signin"]["post"]["responses"]
    assert "404" in document["paths"]["/api/v1/preferences/{key}"]["get"]["responses"]
    assert "409" in document["paths"]["/api/v1/api-keys"]["post"]["responses"]
    health_down = document["paths"]["/health"]["get"]["responses"]["503"]
    assert health_down["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}
