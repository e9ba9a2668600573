"""Connector steps with the owner's integration: decrypted credentials, LLM usage charged, and an
integration whose credentials are refused marked for the user's attention."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select, update

from autofy.config import Settings
from autofy.db import tables
from autofy.db.engine import Database
from autofy.security.crypto import CredentialCipher
from tests.engine.conftest import wait_finished
from tests.engine.support import create_user, start
from tests.factories import User, create_integration, create_workflow
from tests.fakes.gmail import FakeGmail
from tests.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.usefixtures("worker")

PROMPT = {
    "step_type": "action",
    "service_name": "openai",
    "action_name": "prompt",
    "configuration": {"model": "gpt-4o-mini", "prompt": "Summarize: {{ trigger.text }}"},
    "error_handling": {"retry": True, "max_retries": 3},
}


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        assert isinstance(server, FakeOpenAI)
        yield server


async def connect_openai(
    database: Database, settings: Settings, user: User, api_key: str, api_base: str
) -> uuid.UUID:
    integration_id = uuid.uuid4()
    stored = CredentialCipher.from_settings(settings).encrypt(
        {"api_key": api_key}, user_id=user.id, integration_id=integration_id
    )
    async with database.service_session() as session:
        await session.execute(
            insert(tables.integrations).values(
                id=integration_id,
                user_id=user.id,
                service_name="openai",
                display_name="My OpenAI",
                credentials=stored,
                configuration={"api_base": api_base},
            )
        )
    return integration_id


async def test_an_llm_step_uses_the_owners_key_and_its_usage_is_charged(
    database: Database, api_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    user = await create_user(database)
    await connect_openai(database, api_settings, user, fake_openai.api_key, fake_openai.api_base)
    workflow = await create_workflow(database, user, steps=[PROMPT])
    fake_openai.reply_text("A short summary.", input_tokens=1500, output_tokens=600)

    execution = await wait_finished(database, await start(database, workflow, {"text": "a long email"}))

    assert execution.execution_status == "completed", execution.error_message
    (result,) = execution.step_results
    assert result["output"]["text"] == "A short summary."
    assert result["output"]["usage"]["total_tokens"] == 2100
    assert execution.credits_used == 1 + 3  # the run, and 3 started thousands of tokens
    (request,) = fake_openai.chat_requests()
    assert "a long email" in str(request["messages"])
    async with database.service_session() as session:
        credits = await session.scalar(
            select(tables.profiles.c.credits_used).where(tables.profiles.c.id == user.id)
        )
    assert credits == 4


async def test_llm_steps_reuse_one_client_until_the_key_is_replaced(
    database: Database, api_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    user = await create_user(database)
    integration_id = await connect_openai(
        database, api_settings, user, fake_openai.api_key, fake_openai.api_base
    )
    workflow = await create_workflow(database, user, steps=[PROMPT, PROMPT])

    for number in range(3):
        fake_openai.reply_text(f"Summary {number}.")
        execution = await wait_finished(
            database, await start(database, workflow, {"text": f"email {number}"})
        )
        assert execution.execution_status == "completed", execution.error_message

    # Six model calls over one connection: the steps share the worker's client for the integration.
    assert len(fake_openai.requests_to("/chat/completions")) == 6
    assert fake_openai.connections_to("/chat/completions") == 1

    # The user replaces the key: the next step builds a client with the new one.
    fake_openai.api_key = "sk-test-replaced-openai-key"
    stored = CredentialCipher.from_settings(api_settings).encrypt(
        {"api_key": fake_openai.api_key}, user_id=user.id, integration_id=integration_id
    )
    async with database.service_session() as session:
        await session.execute(
            update(tables.integrations)
            .where(tables.integrations.c.id == integration_id)
            .values(credentials=stored)
        )
    execution = await wait_finished(database, await start(database, workflow, {"text": "email 4"}))

    assert execution.execution_status == "completed", execution.error_message
    assert fake_openai.requests_to("/chat/completions")[-1].headers["authorization"] == (
        f"Bearer {fake_openai.api_key}"
    )
    assert fake_openai.connections_to("/chat/completions") == 2


async def test_refused_credentials_fail_the_step_once_and_mark_the_integration(
    database: Database, api_settings: Settings, fake_openai: FakeOpenAI
) -> None:
    user = await create_user(database)
    integration_id = await connect_openai(database, api_settings, user, "sk-revoked", fake_openai.api_base)
    workflow = await create_workflow(database, user, steps=[PROMPT])

    execution = await wait_finished(database, await start(database, workflow, {"text": "hello"}))

    assert execution.execution_status == "failed"
    assert len(fake_openai.chat_requests()) == 1  # an authentication failure is not retried
    assert "sk-revoked" not in execution.error_message
    async with database.service_session() as session:
        integration = (
            await session.execute(
                select(tables.integrations).where(tables.integrations.c.id == integration_id)
            )
        ).one()
    assert integration.status == "error"
    assert "401" in integration.error_message or "key" in integration.error_message.lower()


async def test_a_step_needing_an_integration_the_user_lacks_fails_clearly(database: Database) -> None:
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[PROMPT])

    execution = await wait_finished(database, await start(database, workflow, {"text": "hello"}))

    assert execution.execution_status == "failed"
    assert "no OpenAI account is connected" in execution.error_message


async def test_a_rotated_refresh_token_is_saved_with_the_step(
    database: Database, api_settings: Settings
) -> None:
    user = await create_user(database)
    with FakeGmail().running() as gmail:
        assert isinstance(gmail, FakeGmail)
        gmail.rotate_refresh_tokens = True
        granted = gmail.grant() | {"expires_at": 0}  # the access token is stale: the step refreshes it
        integration_id = uuid.uuid4()
        cipher = CredentialCipher.from_settings(api_settings)
        async with database.service_session() as session:
            await session.execute(
                insert(tables.integrations).values(
                    id=integration_id,
                    user_id=user.id,
                    service_name="gmail",
                    display_name="My Gmail",
                    credentials=cipher.encrypt(granted, user_id=user.id, integration_id=integration_id),
                    configuration={"api_base": gmail.url, "token_url": f"{gmail.url}/token"},
                )
            )
        send = {
            "step_type": "action",
            "service_name": "gmail",
            "action_name": "send_email",
            "configuration": {"to": ["ada@example.com"], "subject": "Hi", "body_text": "{{ trigger.text }}"},
        }
        workflow = await create_workflow(database, user, steps=[send])

        execution = await wait_finished(database, await start(database, workflow, {"text": "hello"}))

        assert execution.execution_status == "completed", execution.error_message
        assert len(gmail.sent) == 1
    async with database.service_session() as session:
        stored = await session.scalar(
            select(tables.integrations.c.credentials).where(tables.integrations.c.id == integration_id)
        )
    saved = cipher.decrypt(stored, user_id=user.id, integration_id=integration_id)
    assert saved["refresh_token"] != granted["refresh_token"]
    assert saved["access_token"] != granted["access_token"]


async def test_credentials_that_do_not_decrypt_fail_the_step_clearly(database: Database) -> None:
    user = await create_user(database)
    await create_integration(database, user, "openai")  # a placeholder ciphertext, no real key
    workflow = await create_workflow(database, user, steps=[PROMPT])

    execution = await wait_finished(database, await start(database, workflow, {"text": "hello"}))

    assert execution.execution_status == "failed"
    assert "cannot be read with this server's encryption keys" in execution.error_message
