"""Executions end to end on a real worker: actions, templates, conditions, filters, delays."""

from __future__ import annotations

import pytest

from autofy.db.engine import Database
from tests.engine.conftest import StartWorker, wait_finished
from tests.engine.steps import delay, format_text, only_if, set_fields
from tests.engine.support import create_user, start
from tests.factories import create_workflow

pytestmark = pytest.mark.usefixtures("worker")


async def test_action_steps_pass_data_along_and_record_each_step(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[
            set_fields({"greeting": "Hello {{ trigger.name }}", "count": "{{ trigger.count }}"}),
            format_text("{{ steps.set_fields.greeting }} from {{ workflow.name }}"),
        ],
        name="Greeter",
    )

    execution_id = await start(database, workflow, {"name": "Ada", "count": 3})
    execution = await wait_finished(database, execution_id)

    assert execution.execution_status == "completed", execution.error_message
    assert execution.completed_steps == 2
    assert execution.failed_steps == 0
    first, second = execution.step_results
    assert first["output"] == {"greeting": "Hello Ada", "count": 3}  # a whole template keeps its type
    assert second["output"] == {"result": "HELLO ADA FROM GREETER"}
    assert [r["status"] for r in execution.step_results] == ["completed", "completed"]
    assert second["input"] == {"operation": "upper", "text": "Hello Ada from Greeter"}
    for result in execution.step_results:
        assert result["attempts"] == 1
        assert result["duration_ms"] >= 0
        assert result["started_at"] <= result["completed_at"]
    assert execution.duration is not None
    assert execution.completed_at is not None


async def test_steps_are_reachable_by_order_too(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[
            set_fields({"n": 1}),
            set_fields({"n": 2}),
            format_text("{{ steps[1].n }}-{{ steps.set_fields.n }}"),
        ],
    )
    execution = await wait_finished(database, await start(database, workflow))
    assert execution.step_results[2]["output"] == {"result": "1-2"}


async def test_an_undefined_variable_fails_the_step_and_names_it(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[format_text("Hi {{ trigger.missing_field }}")])

    execution = await wait_finished(database, await start(database, workflow, {"name": "Ada"}))

    assert execution.execution_status == "failed"
    assert "missing_field" in execution.error_message
    assert "configuration.text" in execution.error_message
    assert execution.error_step_id == workflow.step_ids[0]
    (failed,) = execution.step_results
    assert failed["status"] == "failed"
    assert "missing_field" in failed["error"]


async def test_a_template_reaching_for_python_internals_fails_safely(database: Database) -> None:
    user = await create_user(database)
    escape = "{{ trigger.__class__.__mro__[1].__subclasses__() }}"
    workflow = await create_workflow(database, user, steps=[format_text(escape)])

    execution = await wait_finished(database, await start(database, workflow, {"a": 1}))

    assert execution.execution_status == "failed"
    assert "not allowed" in execution.error_message
    assert "subclasses" not in str(execution.step_results[0].get("output"))


async def test_a_step_whose_conditions_fail_is_skipped(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[
            set_fields(
                {"vip": "yes"},
                conditions={"all": [{"left": "{{ trigger.from }}", "op": "contains", "right": "bank"}]},
            ),
            format_text("done"),
        ],
    )

    execution = await wait_finished(database, await start(database, workflow, {"from": "friend@example.com"}))

    assert execution.execution_status == "completed"
    skipped, done = execution.step_results
    assert skipped["status"] == "skipped"
    assert "contains" in skipped["output"]["reason"]
    assert done["status"] == "completed"
    assert execution.completed_steps == 1


async def test_a_failing_filter_ends_the_run_as_completed_and_filtered(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[
            only_if({"all": [{"left": "{{ trigger.amount }}", "op": "greater_than", "right": 100}]}),
            format_text("never runs"),
        ],
    )

    passing = await wait_finished(database, await start(database, workflow, {"amount": 150}))
    filtered = await wait_finished(database, await start(database, workflow, {"amount": 20}))

    assert passing.execution_status == "completed"
    assert len(passing.step_results) == 2
    assert filtered.execution_status == "completed"
    assert filtered.metadata["filtered"] is True
    assert [r["status"] for r in filtered.step_results] == ["filtered"]


async def test_a_delay_parks_the_run_and_resumes_it(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database,
        user,
        steps=[set_fields({"before": "{{ now }}"}), delay(seconds=1), set_fields({"after": "{{ now }}"})],
    )

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed"
    before, parked, after = execution.step_results
    assert parked["output"]["resume_at"] <= after["started_at"]
    assert after["output"]["after"] > before["output"]["before"]


async def test_a_delayed_run_survives_a_worker_restart(database: Database, start_worker: StartWorker) -> None:
    user = await create_user(database)
    workflow = await create_workflow(
        database, user, steps=[delay(seconds=1), format_text("after the restart")]
    )

    # The fixture's worker parks the run; a new worker instance resumes it.
    execution_id = await start(database, workflow)
    async with start_worker():
        execution = await wait_finished(database, execution_id)

    assert execution.execution_status == "completed"
    assert execution.step_results[1]["output"] == {"result": "AFTER THE RESTART"}


async def test_a_stored_template_too_deep_to_parse_fails_its_step_clearly(database: Database) -> None:
    user = await create_user(database)
    # Saved before the validator refused it (the API refuses it now): the engine checks again.
    deep = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    workflow = await create_workflow(database, user, steps=[format_text(deep)])

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "failed"
    assert "nested too deeply" in execution.error_message
    assert "configuration.text" in execution.error_message
