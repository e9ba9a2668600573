"""Structured logs: JSON lines that carry the request id and the execution id of the work at hand."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from autofy.observability.logs import JsonFormatter, execution_id, request_id


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    chosen = await client.get("/health", headers={"X-Request-ID": "trace-42"})
    generated = await client.get("/health")
    oversized = await client.get("/health", headers={"X-Request-ID": "x" * 500})

    assert chosen.headers["x-request-id"] == "trace-42"
    assert len(generated.headers["x-request-id"]) == 32
    assert oversized.headers["x-request-id"] != "x" * 500


def test_a_log_line_is_json_with_the_ids_in_context() -> None:
    record = logging.LogRecord("autofy.engine", logging.WARNING, __file__, 1, "step %s failed", ("2",), None)
    request_token = request_id.set("req-1")
    execution_token = execution_id.set("exec-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(request_token)
        execution_id.reset(execution_token)

    assert line["message"] == "step 2 failed"
    assert line["level"] == "warning"
    assert line["logger"] == "autofy.engine"
    assert line["request_id"] == "req-1"
    assert line["execution_id"] == "exec-1"
    assert "request_id" not in json.loads(JsonFormatter().format(record))


async def test_requests_are_logged_by_route_template_never_by_raw_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = "capability-token-that-must-not-be-logged"
    with caplog.at_level(logging.INFO, logger="autofy.access"):
        await client.post(f"/hooks/{token}", json={})

    lines = [record.getMessage() for record in caplog.records if record.name == "autofy.access"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /hooks/{token} 404 ")
    assert token not in caplog.text
