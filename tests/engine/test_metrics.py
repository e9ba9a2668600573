"""Execution and step metrics count what the engine does, labelled so an operator can read them."""

from __future__ import annotations

import pytest

from autofy.db.engine import Database
from autofy.observability.metrics import REGISTRY
from tests.engine.conftest import wait_finished
from tests.engine.steps import format_text, http_post
from tests.engine.support import create_user, start
from tests.factories import create_workflow
from tests.fakes.engine_effects import EngineEffects

pytestmark = pytest.mark.usefixtures("worker")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_executions_steps_and_retries_are_counted(database: Database, effects: EngineEffects) -> None:
    started = sample("autofy_executions_started_total", trigger_type="webhook")
    completed = sample("autofy_executions_finished_total", trigger_type="webhook", status="completed")
    failed = sample("autofy_executions_finished_total", trigger_type="webhook", status="failed")
    format_steps = sample(
        "autofy_step_duration_seconds_count", service="core", action="format_text", status="completed"
    )
    retries = sample("autofy_step_retries_total", service="core", action="http_request")

    user = await create_user(database)
    healthy = await create_workflow(
        database, user, status="active", trigger_type="webhook", steps=[format_text("a"), format_text("b")]
    )
    flaky = await create_workflow(
        database,
        user,
        status="active",
        trigger_type="webhook",
        steps=[http_post(f"{effects.url}/effects/m", error_handling={"retry": True, "max_retries": 1})],
    )
    effects.fail(500, times=5, path_contains="/effects/m")

    await wait_finished(database, await start(database, healthy, trigger_type="webhook"))
    await wait_finished(database, await start(database, flaky, trigger_type="webhook"))

    assert sample("autofy_executions_started_total", trigger_type="webhook") == started + 2
    assert (
        sample("autofy_executions_finished_total", trigger_type="webhook", status="completed")
        == completed + 1
    )
    assert sample("autofy_executions_finished_total", trigger_type="webhook", status="failed") == failed + 1
    assert (
        sample("autofy_step_duration_seconds_count", service="core", action="format_text", status="completed")
        == format_steps + 2
    )
    assert sample("autofy_step_retries_total", service="core", action="http_request") == retries + 1
