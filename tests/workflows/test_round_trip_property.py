"""Property: a workflow the API accepts, generated from the catalog's own input schemas, is accepted
again after export and import, validates the same way, and (when its steps are built-in ones that
call no service) runs without a template or configuration error. Bounded and derandomized."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autofy.connectors.catalog import catalog
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.engine.conftest import execution_row, start_worker, wait_until, worker

__all__ = ["start_worker", "worker"]
# Built-in steps that reach no service and wait for nothing: a run of them needs no fake server.
SELF_CONTAINED = {"set_fields", "format_text", "format_number", "format_date", "filter"}
TRIGGER_DATA = {"name": "Ada", "body": "Hello"}

ACTIONS = [action for service in catalog().describe().services for action in service.actions]
# Text that is plain, or a template reading the trigger, as a user or a model would write it.
TEXT = st.one_of(
    st.text(alphabet="abc xyz-_.@0123456789", max_size=12),
    st.sampled_from(["{{ trigger.name }}", "Hi {{ trigger.body }}", "{{ now }}"]),
)


def from_schema(schema: dict[str, Any], definitions: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a pydantic JSON schema (the subset the catalog's input schemas use)."""
    if "$ref" in schema:
        # Deferred: a rule group's schema refers to itself.
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(definitions[name], definitions))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return st.one_of([from_schema(option, definitions) for option in schema[combinator]])
    kind = schema.get("type")
    if kind == "string":
        return TEXT
    if kind == "integer":
        low, high = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1), schema.get("maximum", 100)
        return st.integers(min_value=low, max_value=max(low, min(high, low + 100)))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return st.floats(min_value=low, max_value=max(low, schema.get("maximum", low + 100)), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), definitions), max_size=2)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return st.dictionaries(
            st.sampled_from(["a", "b"]), from_schema(schema["additionalProperties"], definitions), max_size=2
        )
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {
                name: from_schema(field, definitions)
                for name, field in schema["properties"].items()
                if name in required
            },
            optional={
                name: from_schema(field, definitions)
                for name, field in schema["properties"].items()
                if name not in required
            },
        )
    return st.dictionaries(st.sampled_from(["a", "b"]), TEXT, max_size=2)  # any value: a small object


RUNNABLE = [action for action in ACTIONS if action.service_name == "core" and action.name in SELF_CONTAINED]
CONFIGURATIONS = {
    (action.service_name, action.name): from_schema(action.input_schema, action.input_schema.get("$defs", {}))
    for action in ACTIONS
}


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    """A manual workflow of one to three catalog actions, each configured from its input schema."""
    steps = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # Half of them self-contained, so that many generated workflows can also be run.
        action = draw(st.sampled_from(ACTIONS) | st.sampled_from(RUNNABLE))
        steps.append(
            {
                "step_type": action.step_type,
                "service_name": action.service_name,
                "action_name": action.name,
                "configuration": draw(CONFIGURATIONS[(action.service_name, action.name)]),
            }
        )
    return {"name": "Generated", "trigger_type": "manual", "steps": steps}


async def problems_of(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> Any:
    response = await client.get(f"/api/v1/workflows/{workflow_id}/validation", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(document=workflows())
@pytest.mark.usefixtures("worker")
async def test_an_accepted_workflow_survives_export_and_import_and_runs(
    client: httpx.AsyncClient, database: Database, document: dict[str, Any]
) -> None:
    user = await sign_up(client)
    created = await client.post("/api/v1/workflows", json=document, headers=user.headers)
    event(f"saved: {created.status_code == 201}")
    if created.status_code != 201:
        assert created.status_code == 422, created.text  # refused with reasons, never a 500
        return
    exported = await client.get(f"/api/v1/workflows/{created.json()['id']}/export", headers=user.headers)
    imported = await client.post("/api/v1/workflows/import", json=exported.json(), headers=user.headers)

    assert imported.status_code == 201, imported.text
    before = await problems_of(client, user.headers, created.json()["id"])
    after = await problems_of(client, user.headers, imported.json()["id"])
    assert after == before
    if before["valid"] and all(step["action_name"] in SELF_CONTAINED for step in document["steps"]):
        await assert_runs_cleanly(client, database, user.headers, imported.json()["id"])


async def assert_runs_cleanly(
    client: httpx.AsyncClient, database: Database, headers: dict[str, str], workflow_id: str
) -> None:
    event("ran")
    started = await client.post(f"/api/v1/workflows/{workflow_id}/run", json=TRIGGER_DATA, headers=headers)
    assert started.status_code == 202, started.text
    execution_id = uuid.UUID(started.json()["execution_id"])

    async def finished() -> bool:
        return (await execution_row(database, execution_id)).execution_status != "running"

    await wait_until(finished, what="the run")
    error = (await execution_row(database, execution_id)).error_message or ""
    # A value the step refuses (text that is not a date) may fail it; a template or a
    # configuration the validator accepted may not.
    assert "template" not in error, error
    assert "invalid configuration" not in error, error
