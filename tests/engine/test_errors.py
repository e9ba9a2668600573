"""Retries, permanent failures and continue-on-error, against a fake web API over real HTTP."""

from __future__ import annotations

import time

import pytest

from autofy.db.engine import Database
from tests.engine.conftest import wait_finished
from tests.engine.steps import format_text, http_post
from tests.engine.support import create_user, start
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects

pytestmark = pytest.mark.usefixtures("worker")


async def test_server_errors_are_retried_until_the_call_succeeds(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[http_post(f"{effects.url}/effects/a", {"n": 1})])
    effects.fail(500, times=2, path_contains="/effects/a")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed", execution.error_message
    (result,) = execution.step_results
    assert result["attempts"] == 3
    assert result["output"]["body"]["seen"] == 1  # the two failed calls were no effect
    assert len(effects.requests_to("/effects/a")) == 3
    assert "retrying" not in execution.metadata


async def test_a_429_is_retried_after_the_retry_after_it_names(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[http_post(f"{effects.url}/effects/b")])
    effects.fail(429, times=1, retry_after=1, path_contains="/effects/b")

    began = time.monotonic()
    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed"
    assert execution.step_results[0]["attempts"] == 2
    assert time.monotonic() - began >= 1.0  # the test backoff is 50 ms; Retry-After said 1 s
    first, second = effects.requests_to("/effects/b")
    assert second.path == first.path


async def test_timeouts_are_retried(database: Database, effects: EngineEffects) -> None:
    user = await create_user(database)
    step = http_post(f"{effects.url}/effects/c")
    step["configuration"]["timeout_seconds"] = 0.3
    workflow = await create_workflow(database, user, steps=[step])
    effects.slow(1.0, times=1, path_contains="/effects/c")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed"
    assert execution.step_results[0]["attempts"] == 2


async def test_retries_stop_at_max_retries_and_the_run_fails_with_the_error(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    step = http_post(f"{effects.url}/effects/d", error_handling={"retry": True, "max_retries": 2})
    workflow = await create_workflow(database, user, steps=[step, format_text("not reached")])
    effects.fail(503, "down for maintenance", times=10, path_contains="/effects/d")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert len(effects.requests_to("/effects/d")) == 3
    (failed,) = execution.step_results
    assert failed["status"] == "failed"
    assert failed["attempts"] == 3
    assert "503" in failed["error"]
    assert "after 3 attempts" in failed["error"]
    assert execution.error_step_id == workflow.step_ids[0]
    assert "Step 1 (core/http_request) failed" in execution.error_message


async def test_a_permanent_error_is_not_retried(database: Database, effects: EngineEffects) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[http_post(f"{effects.url}/effects/e")])
    effects.fail(400, "the request is malformed", times=5, path_contains="/effects/e")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert len(effects.requests_to("/effects/e")) == 1
    assert execution.step_results[0]["attempts"] == 1


async def test_retry_false_fails_on_the_first_transient_error(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    step = http_post(f"{effects.url}/effects/f", error_handling={"retry": False})
    workflow = await create_workflow(database, user, steps=[step])
    effects.fail(500, times=1, path_contains="/effects/f")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert len(effects.requests_to("/effects/f")) == 1


async def test_continue_on_error_records_the_failure_and_goes_on(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    step = http_post(f"{effects.url}/effects/g", error_handling={"retry": False, "continue_on_error": True})
    workflow = await create_workflow(database, user, steps=[step, format_text("still here")])
    effects.fail(404, "no such thing", times=1, path_contains="/effects/g")

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed"
    failed, done = execution.step_results
    assert failed["status"] == "failed"
    assert "404" in failed["error"]
    assert done["output"] == {"result": "STILL HERE"}
    assert execution.failed_steps == 1
    assert execution.completed_steps == 1


async def test_a_failed_step_records_its_input_with_secrets_redacted(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    # Secrets that arrive with the run (a step may never store one) are rendered into the call.
    body = {"password": "{{ trigger.password }}", "note": "{{ trigger.note }}"}
    step = http_post(f"{effects.url}/effects/h", body)
    step["configuration"]["headers"] = {"Authorization": "Bearer {{ trigger.token }}", "X-Trace": "t1"}
    step["error_handling"] = {"retry": False}
    workflow = await create_workflow(database, user, steps=[step])
    effects.fail(422, times=1, path_contains="/effects/h")

    trigger = {"note": "hello", "password": "hunter2", "token": "sk-live-123"}
    execution = await wait_finished(database, await start(database, workflow, trigger))

    recorded = execution.step_results[0]["input"]
    assert recorded["json_body"] == {"password": "[redacted]", "note": "hello"}
    assert recorded["headers"] == {"Authorization": "[redacted]", "X-Trace": "t1"}
    assert "hunter2" not in str(execution.step_results)  # (the trigger data keeps what was sent)
    assert "sk-live-123" not in str(execution.step_results)
    # The real call carried the secrets; only the record hides them.
    assert effects.requests_to("/effects/h")[0].headers["authorization"] == "Bearer sk-live-123"


async def test_an_oversized_step_output_fails_the_step_clearly(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database, user, steps=[format_text("{{ 'x' * 300000 }}", operation="trim")]
    )

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert "larger than 256 KiB" in execution.error_message


async def test_a_step_output_postgresql_cannot_store_fails_the_step_naming_the_field(
    database: Database, effects: EngineEffects
) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[http_post(f"{effects.url}/effects/nul")])
    effects.fail(200, body={"note": "a\x00b"}, path_contains="/effects/nul")  # an API answering a NUL

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert "the step's output.body.note contains a NUL character" in execution.error_message
    assert execution.step_results[0]["attempts"] == 1  # said at once, not after internal retries


async def test_a_template_that_renders_a_nul_fails_the_step_naming_the_field(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[format_text("{{ 'a' ~ '\\x00' }}")])

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert "configuration.text: contains a NUL character" in execution.error_message
    assert execution.step_results[0]["input"]["text"] == "{{ 'a' ~ '\\x00' }}"  # as saved


async def test_a_step_saved_before_a_rule_existed_fails_in_every_run_of_its_workflow(
    database: Database,
) -> None:
    # Inserted as rows, past the validator: as a workflow saved before today's rules.
    user = await create_user(database)
    workflow = await create_workflow(
        database, user, steps=[format_text("fine"), format_text("{{ steps[9].text }}")]
    )

    # Runs of one workflow share their plan and its checks: the second run is judged as the first.
    first = await wait_finished(database, await start(database, workflow))
    second = await wait_finished(database, await start(database, workflow))

    for execution in (first, second):
        assert execution.execution_status == "failed"
        assert [result["status"] for result in execution.step_results] == ["completed", "failed"]
        assert "the step is not valid as saved" in execution.step_results[1]["error"]
        assert "steps[9] is not an earlier step" in execution.step_results[1]["error"]
