"""A finished run's stored history is bounded: large step inputs and outputs are cut and marked,
while the run's later steps still read every value whole, and a resume re-runs a cut step."""

from __future__ import annotations

import uuid

import httpx
import pytest

from autofy.db.engine import Database
from autofy.engine.records import HISTORY_PREVIEW_CHARACTERS, HISTORY_VALUE_BYTES
from tests.api_fixtures import sign_up
from tests.engine.conftest import wait_finished
from tests.engine.steps import http_post, set_fields
from tests.engine.test_api import as_user
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects

pytestmark = pytest.mark.usefixtures("worker")

BLOB = "x" * (HISTORY_VALUE_BYTES * 3)


async def test_large_values_are_cut_in_history_but_whole_for_later_steps(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(
        database,
        as_user(account),
        steps=[
            set_fields({"blob": "{{ trigger.blob }}"}),
            set_fields({"length": "{{ steps[1].blob | length }}"}),
        ],
    )

    started = await client.post(
        f"/api/v1/workflows/{workflow.id}/run", json={"blob": BLOB}, headers=account.headers
    )
    execution = await wait_finished(database, uuid.UUID(started.json()["execution_id"]))

    assert execution.execution_status == "completed", execution.error_message
    large, measured = execution.step_results
    assert measured["output"] == {"length": len(BLOB)}  # the second step read the value whole
    assert large["output"]["truncated_from_bytes"] > len(BLOB)
    assert len(large["output"]["preview"]) == HISTORY_PREVIEW_CHARACTERS
    assert large["output"]["preview"].startswith('{"blob": "xxxx')
    assert large["input"]["truncated_from_bytes"] > len(BLOB)


async def test_resume_runs_a_step_whose_stored_output_was_cut(
    client: httpx.AsyncClient, database: Database, effects: EngineEffects
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(
        database,
        as_user(account),
        steps=[
            set_fields({"blob": "{{ trigger.blob }}"}),
            http_post(f"{effects.url}/effects/size", {"size": "{{ steps[1].blob | length }}"}),
        ],
    )
    effects.fail(400, "bad request", times=1, path_contains="/effects/size")
    started = await client.post(
        f"/api/v1/workflows/{workflow.id}/run", json={"blob": BLOB}, headers=account.headers
    )
    failed_id = uuid.UUID(started.json()["execution_id"])
    assert (await wait_finished(database, failed_id)).execution_status == "failed"

    response = await client.post(f"/api/v1/executions/{failed_id}/resume", headers=account.headers)

    resumed = await wait_finished(database, uuid.UUID(response.json()["execution_id"]))
    assert resumed.execution_status == "completed", resumed.error_message
    first, sent = resumed.step_results
    assert "reused" not in first  # cut in the failed run's history, so it ran again
    assert sent["output"]["body"]["body"] == {"size": len(BLOB)}
