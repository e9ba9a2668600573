"""Migration 0007 on a database holding the old shape: secrets written in steps (and in past
executions' copies of them) move into encrypted `http` integrations or are blanked."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from autofy.connectors.catalog import catalog
from autofy.connectors.validation import WorkflowCheck, validate_workflow
from autofy.db import migrate, tables
from autofy.db.engine import Database
from autofy.runtime import generate_encryption_key
from autofy.security.crypto import CredentialCipher, parse_encryption_keys
from tests import factories

BOT_TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
SECRETS = ("tok-bearer-1", "key-header-2", "key-query-3", "set-4", BOT_TOKEN, "pw-5")


def http_step(**configuration: Any) -> dict[str, Any]:
    return {
        "step_type": "action",
        "service_name": "core",
        "action_name": "http_request",
        "configuration": {"url": "https://api.example.com/v1/items", **configuration},
    }


OLD_STEPS = [
    http_step(auth={"type": "bearer", "token": "tok-bearer-1"}),
    http_step(headers={"X-API-Key": "key-header-2", "Accept": "json"}, query={"key": "key-query-3"}),
    {
        "step_type": "action",
        "service_name": "core",
        "action_name": "set_fields",
        "configuration": {"fields": {"api_key": "set-4", "note": "{{ trigger.x }}"}},
    },
    {
        "step_type": "action",
        "service_name": "telegram",
        "action_name": "send_message",
        "configuration": {"chat_id": "42", "text": f"via bot{BOT_TOKEN}"},
    },
]


@dataclass(frozen=True)
class Arranged:
    user: factories.User
    workflow: factories.Workflow
    execution_id: uuid.UUID


async def arrange_old_shape(url: str) -> Arranged:
    database = Database(url, pool_size=2)
    try:
        user = await factories.create_user(database)
        workflow = await factories.create_workflow(database, user, steps=OLD_STEPS)
        execution_id = await factories.create_execution(
            database,
            workflow,
            execution_status="completed",
            step_results=[{"step_order": 1, "input": {"json_body": {"password": "pw-5"}, "note": BOT_TOKEN}}],
        )
        plan = [{**step, "step_order": order} for order, step in enumerate(OLD_STEPS, start=1)]
        async with database.service_session() as session:
            await session.execute(
                text(
                    "update public.workflow_executions set engine_plan = cast(:plan as jsonb) where id = :id"
                ),
                {"plan": json.dumps(plan), "id": execution_id},
            )
    finally:
        await database.dispose()
    return Arranged(user, workflow, execution_id)


async def stored_state(url: str, arranged: Arranged) -> tuple[list[Any], list[Any], Any]:
    database = Database(url, pool_size=2)
    try:
        async with database.service_session() as session:
            steps = (
                await session.execute(
                    select(tables.workflow_steps)
                    .where(tables.workflow_steps.c.workflow_id == arranged.workflow.id)
                    .order_by(tables.workflow_steps.c.step_order)
                )
            ).all()
            integrations = (
                await session.execute(select(tables.integrations).order_by(tables.integrations.c.created_at))
            ).all()
            execution = (
                await session.execute(
                    text("select engine_plan, step_results from public.workflow_executions where id = :id"),
                    {"id": arranged.execution_id},
                )
            ).one()
    finally:
        await database.dispose()
    return steps, integrations, execution


def test_0007_moves_http_credentials_into_integrations_and_scrubs_the_rest(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "0006_chat_search")
    arranged = asyncio.run(arrange_old_shape(empty_database_url))
    cipher = CredentialCipher(parse_encryption_keys(generate_encryption_key()))

    migrate.upgrade(empty_database_url, cipher=cipher)

    steps, integrations, execution = asyncio.run(stored_state(empty_database_url, arranged))
    stored_text = json.dumps([dict(step._mapping) for step in steps], default=str) + json.dumps(
        [execution.engine_plan, execution.step_results]
    )
    for secret in SECRETS:
        assert secret not in stored_text
    by_id = {integration.id: integration for integration in integrations}
    moved = [by_id[uuid.UUID(steps[index].configuration["integration_id"])] for index in (0, 1)]
    assert [m.user_id for m in moved] == [arranged.user.id] * 2
    assert {m.service_name for m in moved} == {"http"}
    assert moved[0].configuration == {"api_base": "https://api.example.com"}
    decrypted = [cipher.decrypt(m.credentials, user_id=m.user_id, integration_id=m.id) for m in moved]
    assert decrypted == [
        {"scheme": "bearer", "token": "tok-bearer-1"},
        {"scheme": "header", "name": "X-API-Key", "value": "key-header-2"},
    ]
    assert "auth" not in steps[0].configuration
    assert steps[1].configuration["headers"] == {"Accept": "json"}
    assert steps[1].configuration["query"] == {"key": ""}
    assert steps[2].configuration["fields"] == {"api_key": "", "note": "{{ trigger.x }}"}
    assert steps[3].configuration["text"] == "via bot[secret removed]"
    # What is left validates: no secret anywhere, and the integrations are the owner's own.
    check_steps = [{**dict(step._mapping), "step_order": step.step_order} for step in steps]
    problems = validate_workflow(
        WorkflowCheck(catalog(), {m.id: m.service_name for m in moved}), "manual", {}, check_steps
    )
    assert [p for p in problems if p.level == "save"] == []


def test_0007_without_keys_removes_http_credentials_it_cannot_encrypt(
    empty_database_url: str, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.delenv("AUTOFY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("AUTOFY_DATA_DIR", str(tmp_path))  # no embedded keys there either
    migrate.upgrade(empty_database_url, "0006_chat_search")
    arranged = asyncio.run(arrange_old_shape(empty_database_url))

    migrate.upgrade(empty_database_url)

    steps, integrations, _ = asyncio.run(stored_state(empty_database_url, arranged))
    assert integrations == []
    assert "integration_id" not in steps[0].configuration
    assert "tok-bearer-1" not in json.dumps([dict(step._mapping) for step in steps], default=str)


def test_0007_uses_the_keys_the_embedded_default_generated(
    empty_database_url: str, monkeypatch: Any, tmp_path: Path
) -> None:
    keys = generate_encryption_key()
    (tmp_path / "secrets.json").write_text(json.dumps({"jwt_secret": "x" * 48, "encryption_keys": keys}))
    monkeypatch.delenv("AUTOFY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("AUTOFY_DATABASE_URL", raising=False)
    monkeypatch.setenv("AUTOFY_DATA_DIR", str(tmp_path))
    migrate.upgrade(empty_database_url, "0006_chat_search")
    arranged = asyncio.run(arrange_old_shape(empty_database_url))

    migrate.upgrade(empty_database_url)

    _, integrations, _ = asyncio.run(stored_state(empty_database_url, arranged))
    cipher = CredentialCipher(parse_encryption_keys(keys))
    decrypted = [cipher.decrypt(i.credentials, user_id=i.user_id, integration_id=i.id) for i in integrations]
    assert {"scheme": "bearer", "token": "tok-bearer-1"} in decrypted
