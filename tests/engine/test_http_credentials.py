"""The HTTP request step's credentials come from an `http` integration named by id, never the step."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import insert

from autofy.config import Settings
from autofy.db import tables
from autofy.db.engine import Database
from autofy.security.crypto import CredentialCipher
from tests.engine.conftest import wait_finished
from tests.engine.steps import http_post
from tests.engine.support import create_user, start
from tests.factories import User, create_workflow
from tests.fakes.engine_effects import EngineEffects

pytestmark = pytest.mark.usefixtures("worker")


async def http_integration(
    database: Database, settings: Settings, user: User, credentials: dict[str, str], api_base: str
) -> uuid.UUID:
    integration_id = uuid.uuid4()
    stored = CredentialCipher.from_settings(settings).encrypt(
        credentials, user_id=user.id, integration_id=integration_id
    )
    async with database.service_session() as session:
        await session.execute(
            insert(tables.integrations).values(
                id=integration_id,
                user_id=user.id,
                service_name="http",
                display_name="Example API",
                credentials=stored,
                configuration={"api_base": api_base},
            )
        )
    return integration_id


def with_integration(url: str, integration_id: uuid.UUID) -> dict[str, Any]:
    step = http_post(url, {"n": 1}, error_handling={"retry": False})
    step["configuration"]["integration_id"] = str(integration_id)
    return step


@pytest.mark.parametrize(
    ("credentials", "header", "expected"),
    [
        ({"scheme": "bearer", "token": "tok-123"}, "authorization", "Bearer tok-123"),
        ({"scheme": "basic", "username": "ada", "password": "pw"}, "authorization", "Basic YWRhOnB3"),
        ({"scheme": "header", "name": "X-API-Key", "value": "key-9"}, "x-api-key", "key-9"),
    ],
)
async def test_the_step_sends_the_integrations_credentials(
    database: Database,
    api_settings: Settings,
    effects: EngineEffects,
    credentials: dict[str, str],
    header: str,
    expected: str,
) -> None:
    user = await create_user(database)
    integration_id = await http_integration(database, api_settings, user, credentials, effects.url)
    workflow = await create_workflow(
        database, user, steps=[with_integration(f"{effects.url}/effects/a", integration_id)]
    )

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed", execution.error_message
    [request] = effects.requests_to("/effects/a")
    assert request.headers[header] == expected
    secret = credentials.get("token") or credentials.get("password") or credentials["value"]
    assert secret not in json.dumps(execution.step_results)


async def test_a_query_key_is_added_to_the_url(
    database: Database, api_settings: Settings, effects: EngineEffects
) -> None:
    user = await create_user(database)
    credentials = {"scheme": "query", "name": "api_key", "value": "q-1"}
    integration_id = await http_integration(database, api_settings, user, credentials, effects.url)
    workflow = await create_workflow(
        database, user, steps=[with_integration(f"{effects.url}/effects/q?page=2", integration_id)]
    )

    execution = await wait_finished(database, await start(database, workflow))

    assert execution.execution_status == "completed", execution.error_message
    [request] = effects.requests_to("/effects/q")
    assert request.query == {"page": "2", "api_key": "q-1"}


async def test_credentials_go_only_under_their_api_base_and_only_for_their_owner(
    database: Database, api_settings: Settings, effects: EngineEffects
) -> None:
    owner, other = await create_user(database), await create_user(database)
    credentials = {"scheme": "bearer", "token": "tok-123"}
    scoped = await http_integration(database, api_settings, owner, credentials, f"{effects.url}/effects/api")
    outside = await create_workflow(
        database, owner, steps=[with_integration(f"{effects.url}/effects/elsewhere", scoped)]
    )
    borrowed = await create_workflow(
        database, other, steps=[with_integration(f"{effects.url}/effects/api/x", scoped)]
    )

    refused = await wait_finished(database, await start(database, outside))
    not_theirs = await wait_finished(database, await start(database, borrowed))

    assert refused.execution_status == "failed"
    assert "is not sent to" in refused.error_message
    assert not_theirs.execution_status == "failed"
    assert "does not exist (or is not yours)" in not_theirs.error_message
    assert effects.requests_to("/effects") == []
