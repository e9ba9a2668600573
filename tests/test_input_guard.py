"""Input PostgreSQL cannot store, numbers past what it can count, and bodies nested too deep: a
4xx that names the field on every route, never a 500."""

from __future__ import annotations

import json

import httpx

from autofy.input_guard import MAX_JSON_DEPTH
from autofy.pagination import MAX_OFFSET
from tests.api_fixtures import sign_up


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_a_nul_character_in_a_body_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)

    response = await client.put(
        "/api/v1/preferences/theme",
        json={"value": {"colours": ["red", "bl\u0000ue"]}},
        headers=account.headers,
    )

    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "value.colours.1"
    assert "NUL" in detail["message"]


async def test_a_nul_in_a_field_name_and_an_unpaired_surrogate_are_refused(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    headers = account.headers | {"Content-Type": "application/json"}

    key = await client.put(
        "/api/v1/preferences/theme", content=b'{"value": {"a\\u0000": 1}}', headers=headers
    )
    surrogate = await client.patch("/api/v1/profile", content=b'{"full_name": "x\\ud800"}', headers=headers)

    assert key.status_code == 422, key.text
    assert key.json()["error"]["details"][0]["field"] == "value"
    assert surrogate.status_code == 422, surrogate.text
    assert surrogate.json()["error"]["details"][0]["field"] == "full_name"
    assert "surrogate" in surrogate.json()["error"]["message"]


async def test_a_nul_character_in_a_query_string_is_refused(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)

    response = await client.get("/api/v1/workflows", params={"search": "a\u0000"}, headers=account.headers)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "query.search"


async def test_an_offset_past_the_bound_is_refused_and_the_bound_itself_answers(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)

    for path in ("/api/v1/workflows", "/api/v1/executions", "/api/v1/audit-logs", "/api/v1/templates"):
        too_far = await client.get(path, params={"offset": 2**63}, headers=account.headers)
        last = await client.get(path, params={"offset": MAX_OFFSET}, headers=account.headers)
        assert too_far.status_code == 422, (path, too_far.text)
        assert too_far.json()["error"]["details"][0]["field"] == "query.offset"
        assert last.status_code == 200, (path, last.text)
        assert last.json()["items"] == []


async def test_a_body_nested_too_deep_is_refused_with_400(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    headers = account.headers | {"Content-Type": "application/json"}

    for depth in (MAX_JSON_DEPTH + 1, 2_000, 100_000):
        body = f'{{"value": {nested(depth)}}}'
        response = await client.put("/api/v1/preferences/theme", content=body, headers=headers)
        assert response.status_code == 400, (depth, response.text)

    fits = await client.put(
        "/api/v1/preferences/theme", content=f'{{"value": {nested(MAX_JSON_DEPTH - 2)}}}', headers=headers
    )
    assert fits.status_code == 200, fits.text
    assert json.dumps(fits.json()["value"]).startswith("[[[")


async def test_dates_that_overflow_once_in_utc_are_refused_not_a_500(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)

    earliest = await client.get(
        "/api/v1/audit-logs", params={"since": "0001-01-01T00:00:00+14:00"}, headers=account.headers
    )
    latest = await client.get(
        "/api/v1/executions", params={"started_before": "9999-12-31T23:59:59-12:00"}, headers=account.headers
    )
    key = await client.post(
        "/api/v1/api-keys",
        json={"name": "far", "expires_at": "9999-12-31T23:59:59-14:00"},
        headers=account.headers,
    )

    for response in (earliest, latest, key):
        assert response.status_code == 422, response.text
        assert "outside what can be stored" in response.json()["error"]["message"]
