"""What users do through the API: run a workflow, cancel, re-run and resume executions."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, update

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from tests.api_fixtures import SignedUpUser, sign_up
from tests.engine.conftest import execution_row, no_queued_jobs, wait_finished, wait_for, wait_until
from tests.engine.steps import delay, format_text, http_post, set_fields
from tests.factories import User, create_workflow
from tests.fakes.engine_effects import EngineEffects

pytestmark = pytest.mark.usefixtures("worker")


def as_user(account: SignedUpUser) -> User:
    return User(id=account.user_id, email=account.email, claims=user_claims(account.user_id, account.email))


async def test_running_a_workflow_answers_202_and_the_run_completes(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(database, as_user(account), steps=[format_text("{{ trigger.word }}")])

    response = await client.post(
        f"/api/v1/workflows/{workflow.id}/run", json={"word": "ping"}, headers=account.headers
    )

    assert response.status_code == 202, response.text
    execution = await wait_finished(database, uuid.UUID(response.json()["execution_id"]))
    assert execution.execution_status == "completed"
    assert execution.trigger_data == {"word": "ping"}
    assert execution.metadata["test_run"] is True  # the workflow is still a draft
    assert execution.step_results[0]["output"] == {"result": "PING"}


async def test_running_without_a_body_uses_empty_trigger_data(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(
        database, as_user(account), steps=[set_fields({"a": 1})], status="active"
    )

    response = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)

    assert response.status_code == 202, response.text
    execution = await wait_finished(database, uuid.UUID(response.json()["execution_id"]))
    assert execution.trigger_data == {}
    assert "test_run" not in execution.metadata


async def test_another_users_workflow_is_not_found(client: httpx.AsyncClient, database: Database) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    workflow = await create_workflow(database, as_user(owner), steps=[set_fields({"a": 1})])

    response = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=stranger.headers)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    async with database.service_session() as session:
        count = await session.scalar(select(tables.workflow_executions.c.id).limit(1))
    assert count is None


async def test_a_user_out_of_credits_is_refused_with_402(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(database, as_user(account), steps=[set_fields({"a": 1})])
    async with database.service_session() as session:
        await session.execute(
            update(tables.profiles).where(tables.profiles.c.id == account.user_id).values(credits_used=1000)
        )

    response = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)

    assert response.status_code == 402
    message = response.json()["error"]["message"]
    assert "0 of this period's 1000 remain (1000 used" in message
    assert "Credits reset on " in message
    assert "grant extra credits" in message


async def test_cancelling_a_delayed_run_makes_its_queued_job_a_no_op(
    client: httpx.AsyncClient, database: Database, effects: EngineEffects
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(
        database, as_user(account), steps=[delay(seconds=1), http_post(f"{effects.url}/effects/after-delay")]
    )
    started = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)
    execution_id = uuid.UUID(started.json()["execution_id"])

    async def parked() -> bool:
        return len((await execution_row(database, execution_id)).step_results) == 1

    await wait_until(parked, what="the run to park in its delay")
    response = await client.post(f"/api/v1/executions/{execution_id}/cancel", headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["execution_status"] == "cancelled"

    await wait_until(lambda: no_queued_jobs(database), what="the parked job to be consumed")
    execution = await execution_row(database, execution_id)
    assert execution.execution_status == "cancelled"
    assert len(execution.step_results) == 1
    assert effects.effects["after-delay"] == 0

    again = await client.post(f"/api/v1/executions/{execution_id}/cancel", headers=account.headers)
    assert again.status_code == 409


async def test_a_step_in_flight_when_cancelled_cannot_record_its_result(
    client: httpx.AsyncClient, database: Database, effects: EngineEffects
) -> None:
    account = await sign_up(client)
    effects.hold = 1.0
    workflow = await create_workflow(
        database,
        as_user(account),
        steps=[http_post(f"{effects.url}/slow-effects/in-flight"), format_text("not reached")],
    )
    started = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)
    execution_id = uuid.UUID(started.json()["execution_id"])
    await wait_for(lambda: len(effects.requests_to("/slow-effects/in-flight")) == 1, what="the step to start")

    response = await client.post(f"/api/v1/executions/{execution_id}/cancel", headers=account.headers)
    assert response.status_code == 200
    await wait_for(lambda: effects.effects["in-flight"] == 1, what="the slow call to end")
    await wait_until(lambda: no_queued_jobs(database), what="the job to end")

    execution = await execution_row(database, execution_id)
    assert execution.execution_status == "cancelled"
    assert execution.step_results == []


async def test_rerun_starts_a_new_execution_with_the_same_trigger_data(
    client: httpx.AsyncClient, database: Database
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(database, as_user(account), steps=[format_text("{{ trigger.word }}")])
    first = await client.post(
        f"/api/v1/workflows/{workflow.id}/run", json={"word": "again"}, headers=account.headers
    )
    first_id = uuid.UUID(first.json()["execution_id"])
    await wait_finished(database, first_id)

    response = await client.post(f"/api/v1/executions/{first_id}/rerun", headers=account.headers)

    assert response.status_code == 202
    second_id = uuid.UUID(response.json()["execution_id"])
    assert second_id != first_id
    second = await wait_finished(database, second_id)
    assert second.trigger_data == {"word": "again"}
    assert second.metadata["rerun_of"] == str(first_id)
    assert second.step_results[0]["output"] == {"result": "AGAIN"}


async def test_resume_continues_a_failed_run_from_the_failed_step_reusing_earlier_outputs(
    client: httpx.AsyncClient, database: Database, effects: EngineEffects
) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(
        database,
        as_user(account),
        steps=[
            set_fields({"stamp": "{{ now }}"}),
            http_post(f"{effects.url}/effects/flaky", {"stamp": "{{ steps.set_fields.stamp }}"}),
            format_text("sent {{ steps.set_fields.stamp }}"),
        ],
    )
    effects.fail(400, "bad request", times=1, path_contains="/effects/flaky")
    started = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)
    failed_id = uuid.UUID(started.json()["execution_id"])
    failed = await wait_finished(database, failed_id)
    assert failed.execution_status == "failed"

    response = await client.post(f"/api/v1/executions/{failed_id}/resume", headers=account.headers)

    assert response.status_code == 202, response.text
    resumed = await wait_finished(database, uuid.UUID(response.json()["execution_id"]))
    assert resumed.execution_status == "completed", resumed.error_message
    assert resumed.metadata["resumed_from"] == str(failed_id)
    reused, sent, formatted = resumed.step_results
    stamp = failed.step_results[0]["output"]["stamp"]
    assert reused["reused"] is True
    assert reused["output"] == {"stamp": stamp}
    assert sent["output"]["body"]["body"] == {"stamp": stamp}
    assert formatted["output"] == {"result": f"SENT {stamp}".upper()}
    assert (await execution_row(database, failed_id)).execution_status == "failed"  # final


async def test_only_a_failed_run_can_be_resumed(client: httpx.AsyncClient, database: Database) -> None:
    account = await sign_up(client)
    workflow = await create_workflow(database, as_user(account), steps=[set_fields({"a": 1})])
    started = await client.post(f"/api/v1/workflows/{workflow.id}/run", headers=account.headers)
    execution_id = uuid.UUID(started.json()["execution_id"])
    await wait_finished(database, execution_id)

    response = await client.post(f"/api/v1/executions/{execution_id}/resume", headers=account.headers)

    assert response.status_code == 409
