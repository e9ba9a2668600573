"""Email workflows end to end against the fake Gmail: activation takes the cursor, each new email
starts one run, nothing fires twice, and a Gmail failure is recorded and recovered from."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from autofy.db import tables
from autofy.db.engine import Database
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.scheduler import Scheduler
from autofy.triggers.service import TriggerActivationError
from autofy.triggers.tables import workflow_trigger_polls
from tests.factories import User, Workflow, create_integration, create_user, create_workflow
from tests.fakes.gmail import FakeGmail
from tests.triggers.conftest import FakeClock, executions_of, set_credits

POLL_INTERVAL = 60


async def connect_gmail(
    database: Database, user: User, fake_gmail: FakeGmail, connectors: ConnectorAccess
) -> uuid.UUID:
    """A Gmail integration of `user` pointing at the fake, with real encrypted credentials."""
    integration_id = await create_integration(
        database,
        user,
        "gmail",
        configuration={"api_base": fake_gmail.url, "token_url": f"{fake_gmail.url}/token"},
    )
    stored = connectors.cipher.encrypt(fake_gmail.grant(), user_id=user.id, integration_id=integration_id)
    async with database.service_session() as session:
        await session.execute(
            tables.integrations.update()
            .where(tables.integrations.c.id == integration_id)
            .values(credentials=stored)
        )
    return integration_id


async def email_workflow(database: Database, user: User, **filters: Any) -> Workflow:
    steps = [
        {
            "step_type": "trigger",
            "service_name": "gmail",
            "action_name": "new_email",
            "configuration": filters,
        },
        {
            "step_type": "action",
            "service_name": "core",
            "action_name": "format_text",
            "configuration": {"template": "{{ trigger.subject }}"},
        },
    ]
    return await create_workflow(
        database,
        user,
        trigger_type="email",
        trigger_config={"poll_interval_seconds": POLL_INTERVAL},
        steps=steps,
    )


@pytest.fixture
async def gmail_user(database: Database, fake_gmail: FakeGmail, connectors: ConnectorAccess) -> User:
    user = await create_user(database)
    await connect_gmail(database, user, fake_gmail, connectors)
    return user


@pytest.fixture
def scheduler(database: Database, connectors: ConnectorAccess, clock: FakeClock) -> Scheduler:
    return Scheduler(database, connectors, clock=clock, sleep=clock.sleep)


async def subjects(database: Database, workflow: Workflow) -> list[str]:
    return [execution["trigger_data"]["subject"] for execution in await executions_of(database, workflow.id)]


async def next_poll(scheduler: Scheduler, clock: FakeClock) -> None:
    clock.advance(seconds=POLL_INTERVAL)
    await scheduler.poll_due()


async def integration_state(database: Database, user: User) -> tuple[str, str | None]:
    i = tables.integrations
    async with database.service_session() as session:
        row = (
            await session.execute(
                select(i.c.status, i.c.error_message).where(
                    i.c.user_id == user.id, i.c.service_name == "gmail"
                )
            )
        ).one()
    return row.status, row.error_message


async def test_only_mail_arriving_after_activation_starts_runs(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    fake_gmail.add_message(subject="before activation")
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    fake_gmail.add_message(subject="after activation", body_text="Hello")

    await scheduler.poll_due()  # not due yet: the first poll is one interval after activation
    assert await executions_of(database, workflow.id) == []
    await next_poll(scheduler, clock)

    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"]["subject"] == "after activation"
    assert execution["trigger_data"]["body_text"].strip() == "Hello"
    assert execution["metadata"]["trigger_type"] == "email"


async def test_several_emails_in_the_same_second_each_start_one_run(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    for subject in ("one", "two", "three", "four"):
        fake_gmail.add_message(subject=subject, received_at=1_800_000_000.0)

    await next_poll(scheduler, clock)

    # One poll, one transaction: the four runs share their start time, so compare without order.
    assert sorted(await subjects(database, workflow)) == ["four", "one", "three", "two"]


async def test_no_email_fires_twice_across_polls_and_racing_schedulers(
    database_url: str,
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    connectors: ConnectorAccess,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    other_database = Database(database_url, pool_size=4)
    schedulers = [
        Scheduler(database, connectors, clock=clock, sleep=clock.sleep),
        Scheduler(other_database, connectors, clock=clock, sleep=clock.sleep),
    ]
    try:
        for batch in range(3):
            fake_gmail.add_message(subject=f"mail {batch}")
            clock.advance(seconds=POLL_INTERVAL)
            await asyncio.gather(*(s.poll_due() for s in schedulers for _ in range(2)))
        clock.advance(seconds=POLL_INTERVAL)
        await asyncio.gather(*(s.poll_due() for s in schedulers))
    finally:
        await other_database.dispose()

    assert await subjects(database, workflow) == ["mail 0", "mail 1", "mail 2"]


async def test_the_filter_of_the_trigger_step_applies(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user, subject="invoice")
    await activate(workflow, gmail_user, now=clock.now)
    fake_gmail.add_message(subject="Lunch?")
    fake_gmail.add_message(subject="Invoice 2026-11")

    await next_poll(scheduler, clock)

    assert await subjects(database, workflow) == ["Invoice 2026-11"]


async def test_a_gmail_failure_is_recorded_and_the_next_poll_delivers_the_mail(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    fake_gmail.add_message(subject="kept for later")
    fake_gmail.fail(500, "Backend Error", times=1, path_contains="/history")

    await next_poll(scheduler, clock)

    assert await executions_of(database, workflow.id) == []
    status, message = await integration_state(database, gmail_user)
    assert status == "active"  # a failing service is not a refused credential
    assert message is not None
    assert "500" in message
    async with database.service_session() as session:
        poll = (
            await session.execute(
                select(
                    workflow_trigger_polls.c.last_error, workflow_trigger_polls.c.consecutive_failures
                ).where(workflow_trigger_polls.c.workflow_id == workflow.id)
            )
        ).one()
    assert poll.consecutive_failures == 1
    assert "Backend Error" in poll.last_error

    await next_poll(scheduler, clock)

    assert await subjects(database, workflow) == ["kept for later"]
    assert await integration_state(database, gmail_user) == ("active", None)


async def test_a_revoked_gmail_grant_marks_the_integration_expired(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    fake_gmail.revoke()

    await next_poll(scheduler, clock)

    status, message = await integration_state(database, gmail_user)
    assert status == "expired"
    assert message is not None
    assert await executions_of(database, workflow.id) == []


async def test_mail_past_the_credits_limit_is_recorded_as_failed_runs(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    await set_credits(database, gmail_user, used=3, limit=3)
    fake_gmail.add_message(subject="over the limit")

    await next_poll(scheduler, clock)
    await next_poll(scheduler, clock)

    [execution] = await executions_of(database, workflow.id)
    assert execution["execution_status"] == "failed"
    assert execution["trigger_data"]["subject"] == "over the limit"
    assert "credits" in execution["error_message"]


async def test_activation_fails_clearly_when_gmail_cannot_be_reached(
    database: Database, fake_gmail: FakeGmail, gmail_user: User, activate: Any, clock: FakeClock
) -> None:
    workflow = await email_workflow(database, gmail_user)
    fake_gmail.fail(503, "The service is currently unavailable.", times=10)

    with pytest.raises(TriggerActivationError, match="gmail"):
        await activate(workflow, gmail_user, now=clock.now)

    async with database.service_session() as session:
        status = await session.scalar(
            select(tables.workflows.c.status).where(tables.workflows.c.id == workflow.id)
        )
        polls = await session.scalar(
            select(workflow_trigger_polls.c.workflow_id).where(
                workflow_trigger_polls.c.workflow_id == workflow.id
            )
        )
    assert status == "draft"
    assert polls is None


async def test_pausing_stops_polling(
    database: Database,
    fake_gmail: FakeGmail,
    gmail_user: User,
    activate: Any,
    clock: FakeClock,
    scheduler: Scheduler,
) -> None:
    workflow = await email_workflow(database, gmail_user)
    await activate(workflow, gmail_user, now=clock.now)
    await activate(workflow, gmail_user, status="paused", now=clock.now)
    fake_gmail.add_message(subject="while paused")
    requests_before = len(fake_gmail.requests)

    await next_poll(scheduler, clock)

    assert await executions_of(database, workflow.id) == []
    assert len(fake_gmail.requests) == requests_before
