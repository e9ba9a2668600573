"""Telegram's new_message as a webhook workflow's trigger, against the fake Telegram: activation
sets the bot's webhook, deliveries with Telegram's secret token start one run per update, filters
and wrong secrets start nothing, pausing removes the webhook."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.errors import ConflictError
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.service import TriggerActivationError, on_workflow_status_changed
from autofy.triggers.tables import workflow_webhooks
from tests.api_fixtures import sign_up
from tests.factories import User, Workflow, create_integration, create_user, create_workflow
from tests.fakes.telegram import FakeTelegram
from tests.triggers.conftest import executions_of

PUBLIC_URL = "https://autofy.example"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    # Telegram delivers to https addresses only.
    return api_settings.model_copy(update={"public_url": PUBLIC_URL})


async def connect_telegram(
    database: Database,
    user: User,
    fake_telegram: FakeTelegram,
    connectors: ConnectorAccess,
    *,
    bot_token: str,
) -> None:
    """A Telegram integration of `user` on the fake, with real encrypted credentials."""
    integration_id = await create_integration(
        database, user, "telegram", configuration={"api_base": fake_telegram.url}
    )
    stored = connectors.cipher.encrypt(
        {"bot_token": bot_token}, user_id=user.id, integration_id=integration_id
    )
    async with database.service_session() as session:
        await session.execute(
            tables.integrations.update()
            .where(tables.integrations.c.id == integration_id)
            .values(credentials=stored)
        )


@pytest.fixture
async def bot_owner(database: Database, fake_telegram: FakeTelegram, connectors: ConnectorAccess) -> User:
    user = await create_user(database)
    await connect_telegram(database, user, fake_telegram, connectors, bot_token=fake_telegram.token)
    return user


async def telegram_workflow(database: Database, user: User, **filters: Any) -> Workflow:
    steps = [
        {
            "step_type": "trigger",
            "service_name": "telegram",
            "action_name": "new_message",
            "configuration": filters,
        },
        {
            "step_type": "action",
            "service_name": "core",
            "action_name": "format_text",
            "configuration": {"operation": "upper", "text": "{{ trigger.text }}"},
        },
    ]
    return await create_workflow(database, user, trigger_type="webhook", trigger_config={}, steps=steps)


async def webhook_row(database: Database, workflow: Workflow) -> tuple[str, str]:
    """The workflow's hook token and generated secret."""
    h = workflow_webhooks
    async with database.service_session() as session:
        row = (
            await session.execute(select(h.c.token, h.c.signing_secret).where(h.c.workflow_id == workflow.id))
        ).one()
    return row.token, row.signing_secret


async def status_of(database: Database, workflow: Workflow) -> str:
    async with database.service_session() as session:
        status: str | None = await session.scalar(
            select(tables.workflows.c.status).where(tables.workflows.c.id == workflow.id)
        )
    assert status is not None
    return status


async def deliver(
    client: httpx.AsyncClient,
    database: Database,
    workflow: Workflow,
    update: dict[str, Any],
    *,
    secret: str | None,
) -> httpx.Response:
    """POST an update to the workflow's hook as Telegram does (`secret` None: the right one)."""
    token, generated = await webhook_row(database, workflow)
    headers = {SECRET_HEADER: generated if secret is None else secret}
    return await client.post(f"/hooks/{token}", json=update, headers=headers)


async def test_activation_has_telegram_deliver_to_the_hook_url(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, activate: Any
) -> None:
    workflow = await telegram_workflow(database, bot_owner)

    await activate(workflow, bot_owner)

    token, secret = await webhook_row(database, workflow)
    assert fake_telegram.webhook_url == f"{PUBLIC_URL}/hooks/{token}"
    assert fake_telegram.webhook_parameters["secret_token"] == secret
    assert fake_telegram.webhook_parameters["allowed_updates"] == ["message", "channel_post"]
    assert await status_of(database, workflow) == "active"


async def test_a_bad_bot_token_refuses_the_activation_and_the_workflow_stays_draft(
    database: Database, fake_telegram: FakeTelegram, connectors: ConnectorAccess, activate: Any
) -> None:
    user = await create_user(database)
    await connect_telegram(database, user, fake_telegram, connectors, bot_token="7012345678:AAHrevokedToken")
    workflow = await telegram_workflow(database, user)

    with pytest.raises(TriggerActivationError) as refused:
        await activate(workflow, user)

    assert refused.value.status_code == 422
    assert "Telegram refused the bot token" in refused.value.message
    assert "Reconnect the Telegram integration" in refused.value.message
    assert await status_of(database, workflow) == "draft"
    assert fake_telegram.webhook_url == ""


async def test_an_address_telegram_cannot_reach_refuses_the_activation_naming_the_setting(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, connectors: ConnectorAccess
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    plain_http = dataclasses.replace(connectors, public_url="http://127.0.0.1:8000")

    async def activate_reachable_over_http() -> None:
        async with database.user_session(bot_owner.claims) as session:
            await session.execute(
                tables.workflows.update().where(tables.workflows.c.id == workflow.id).values(status="active")
            )
            await on_workflow_status_changed(session, workflow.id, "active", connectors=plain_http)

    with pytest.raises(TriggerActivationError) as refused:
        await activate_reachable_over_http()

    assert "HTTPS url must be provided" in refused.value.message
    assert "Set AUTOFY_PUBLIC_URL to the https address Telegram can reach" in refused.value.message
    assert await status_of(database, workflow) == "draft"


async def test_a_delivered_message_starts_a_run_with_the_message_as_trigger_data(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    update_id = fake_telegram.add_incoming_message(42, "Invoice 17 is paid", sender_username="ada")

    response = await deliver(client, database, workflow, fake_telegram.update(update_id), secret=None)

    assert response.status_code == 202, response.text
    [execution] = await executions_of(database, workflow.id)
    assert response.json() == {"execution_id": str(execution["id"])}
    data = execution["trigger_data"]
    assert data["update_id"] == update_id
    assert data["chat_id"] == 42
    assert data["text"] == "Invoice 17 is paid"
    assert data["from_username"] == "ada"
    assert set(data) == {
        "update_id",
        "message_id",
        "chat_id",
        "chat_type",
        "chat_title",
        "chat_username",
        "from_id",
        "from_username",
        "from_name",
        "text",
        "date",
    }


async def test_a_redelivered_update_starts_nothing_new(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    update = fake_telegram.update(fake_telegram.add_incoming_message(42, "hello"))

    first = await deliver(client, database, workflow, update, secret=None)
    again = await deliver(client, database, workflow, update, secret=None)

    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert len(await executions_of(database, workflow.id)) == 1


async def test_a_wrong_or_missing_secret_gets_the_unknown_hook_answer(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    update = fake_telegram.update(fake_telegram.add_incoming_message(42, "hello"))
    token, _ = await webhook_row(database, workflow)

    wrong = await deliver(client, database, workflow, update, secret="not-the-secret")
    missing = await client.post(f"/hooks/{token}", json=update)
    unknown = await client.post("/hooks/no-such-token", json=update, headers={SECRET_HEADER: "x"})

    assert wrong.status_code == missing.status_code == unknown.status_code == 404
    assert wrong.json() == missing.json() == unknown.json()
    assert await executions_of(database, workflow.id) == []


async def test_updates_the_filters_leave_out_are_accepted_without_a_run(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner, chat_id="42", text_contains="invoice")
    await activate(workflow, bot_owner)
    other_chat = fake_telegram.add_incoming_message(7, "Invoice from elsewhere")
    other_text = fake_telegram.add_incoming_message(42, "Lunch?")
    not_a_message = fake_telegram.add_other_update()
    wanted = fake_telegram.add_incoming_message(42, "INVOICE 18")

    answers = [
        await deliver(client, database, workflow, fake_telegram.update(update_id), secret=None)
        for update_id in (other_chat, other_text, not_a_message, wanted)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 202]
    assert "No run started" in answers[0].json()["reason"]
    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"]["update_id"] == wanted


async def test_a_body_that_is_not_an_update_is_refused(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)

    response = await deliver(client, database, workflow, {"message": {"text": "no id"}}, secret=None)

    assert response.status_code == 422
    assert await executions_of(database, workflow.id) == []


async def test_an_update_postgresql_cannot_store_is_refused_with_400(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    update_id = fake_telegram.add_incoming_message(42, "a\u0000b")

    response = await deliver(client, database, workflow, fake_telegram.update(update_id), secret=None)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["field"] == "message.text"
    assert await executions_of(database, workflow.id) == []


async def test_pausing_removes_the_webhook_and_deliveries_stop(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    bot_owner: User,
    activate: Any,
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)

    await activate(workflow, bot_owner, status="paused")

    assert len(fake_telegram.requests_to("/deleteWebhook")) == 1
    assert fake_telegram.webhook_url == ""
    update = fake_telegram.update(fake_telegram.add_incoming_message(42, "while paused"))
    assert (await deliver(client, database, workflow, update, secret=None)).status_code == 404


async def test_pausing_succeeds_when_telegram_is_unreachable(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, activate: Any
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    fake_telegram.fail(502, path_contains="/getWebhookInfo")

    await activate(workflow, bot_owner, status="paused")

    assert await status_of(database, workflow) == "paused"
    assert fake_telegram.requests_to("/deleteWebhook") == []


async def test_pausing_leaves_a_webhook_set_since_for_something_else(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, activate: Any
) -> None:
    workflow = await telegram_workflow(database, bot_owner)
    await activate(workflow, bot_owner)
    fake_telegram.webhook_url = "https://elsewhere.example/bot"

    await activate(workflow, bot_owner, status="paused")

    assert fake_telegram.webhook_url == "https://elsewhere.example/bot"
    assert fake_telegram.requests_to("/deleteWebhook") == []


async def test_a_second_active_workflow_on_the_same_bot_is_refused(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, activate: Any
) -> None:
    first = await telegram_workflow(database, bot_owner)
    second = await telegram_workflow(database, bot_owner)
    await activate(first, bot_owner)
    first_url = fake_telegram.webhook_url

    with pytest.raises(ConflictError, match="already receives this Telegram bot's messages"):
        await activate(second, bot_owner)

    assert fake_telegram.webhook_url == first_url
    assert await status_of(database, second) == "draft"


async def test_rotating_the_hook_has_telegram_deliver_to_the_new_url(
    client: httpx.AsyncClient,
    database: Database,
    fake_telegram: FakeTelegram,
    connectors: ConnectorAccess,
    activate: Any,
) -> None:
    owner = await sign_up(client)
    user = User(id=owner.user_id, email=owner.email, claims=user_claims(owner.user_id, owner.email))
    await connect_telegram(database, user, fake_telegram, connectors, bot_token=fake_telegram.token)
    workflow = await telegram_workflow(database, user)
    await activate(workflow, user)
    old_token, _ = await webhook_row(database, workflow)

    response = await client.post(f"/api/v1/workflows/{workflow.id}/webhook/rotate", headers=owner.headers)

    assert response.status_code == 200, response.text
    new_token, new_secret = await webhook_row(database, workflow)
    assert new_token != old_token
    assert fake_telegram.webhook_url == response.json()["url"] == f"{PUBLIC_URL}/hooks/{new_token}"
    assert fake_telegram.webhook_parameters["secret_token"] == new_secret


def test_the_catalog_takes_telegram_new_message_as_a_webhook_workflows_trigger() -> None:
    steps = [
        {
            "step_order": 1,
            "step_type": "trigger",
            "service_name": "telegram",
            "action_name": "new_message",
            "configuration": {"chat_id": "42"},
        },
        {
            "step_order": 2,
            "step_type": "action",
            "service_name": "core",
            "action_name": "format_text",
            "configuration": {"operation": "upper", "text": "{{ trigger.text }}"},
        },
    ]

    assert catalog().validate_workflow("webhook", {}, steps) == []
    assert catalog().validate_workflow("webhook", {}, steps[1:]) == []  # a plain webhook
    [scheduled] = catalog().validate_workflow("scheduled", {"cron": "0 9 * * *"}, steps)
    assert scheduled.step_order == 1
    assert "needs trigger_type 'webhook'" in scheduled.message


async def test_a_workflow_without_the_trigger_step_never_calls_telegram(
    database: Database, fake_telegram: FakeTelegram, bot_owner: User, activate: Any
) -> None:
    workflow = await create_workflow(database, bot_owner, trigger_type="webhook", trigger_config={})

    await activate(workflow, bot_owner)
    await activate(workflow, bot_owner, status="paused")

    assert fake_telegram.requests == []
