"""End-to-end harness: the product's API, real engine workers, a scheduler whose clock the test
sets, and a signed-up user who connects services running on the fake servers through the API, as a
user would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.scheduler import Scheduler
from tests.api_fixtures import SignedUpUser, sign_up

# The engine's harness, shared rather than repeated: `worker` runs the production `run_workers`
# for the whole test (`start_worker` is what it uses).
from tests.engine.conftest import start_worker, wait_finished, worker
from tests.fakes.gmail import FakeGmail
from tests.fakes.notion import FakeNotion
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from tests.triggers.conftest import FakeClock

__all__ = ["start_worker", "worker"]


@dataclass(frozen=True)
class Account:
    """A signed-up user driving Autofy through its API."""

    client: httpx.AsyncClient
    user: SignedUpUser
    database: Database

    async def connect(
        self, service_name: str, credentials: dict[str, Any], configuration: dict[str, Any]
    ) -> None:
        response = await self.client.post(
            "/api/v1/integrations",
            json={"service_name": service_name, "credentials": credentials, "configuration": configuration},
            headers=self.user.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "active", response.text

    async def use_template(self, template_id: str, inputs: dict[str, Any]) -> uuid.UUID:
        """Instantiate the template with `inputs` and activate the workflow; its id."""
        created = await self.client.post(
            f"/api/v1/templates/{template_id}/instantiate", json={"inputs": inputs}, headers=self.user.headers
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        activated = await self.client.post(
            f"/api/v1/workflows/{workflow_id}/activate", headers=self.user.headers
        )
        assert activated.status_code == 200, activated.text
        assert activated.json()["status"] == "active"
        return uuid.UUID(workflow_id)

    async def get(self, path: str) -> Any:
        response = await self.client.get(path, headers=self.user.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any = None) -> Any:
        response = await self.client.post(path, json=body, headers=self.user.headers)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    async def execution_ids(self, workflow_id: uuid.UUID) -> list[uuid.UUID]:
        """The workflow's executions, as its owner lists them."""
        page = await self.get(f"/api/v1/workflows/{workflow_id}/executions")
        return [uuid.UUID(item["id"]) for item in page["items"]]

    async def finished(self, execution_id: uuid.UUID) -> dict[str, Any]:
        """The execution once the workers have finished it, as its owner reads it."""
        await wait_finished(self.database, execution_id)
        execution: dict[str, Any] = await self.get(f"/api/v1/executions/{execution_id}")
        return execution


@pytest.fixture
async def account(client: httpx.AsyncClient, database: Database) -> Account:
    return Account(client, await sign_up(client), database)


@pytest.fixture
def clock() -> FakeClock:
    """The scheduler's clock, starting at the real time (activation through the API uses it)."""
    return FakeClock(now=datetime.now(UTC))


@pytest.fixture
def scheduler(database: Database, api_settings: Settings, clock: FakeClock) -> Scheduler:
    """The production scheduler, ticked by the test (`await scheduler.tick()`)."""
    return Scheduler(database, ConnectorAccess.from_settings(api_settings), clock=clock, sleep=clock.sleep)


@pytest.fixture
async def gmail(account: Account, fake_gmail: FakeGmail) -> FakeGmail:
    """Gmail connected on the fake: the OAuth client and refresh token, no access token yet (the
    first call gets one from the fake's token endpoint)."""
    granted = fake_gmail.grant()
    credentials = {key: granted[key] for key in ("client_id", "client_secret", "refresh_token")}
    await account.connect(
        "gmail", credentials, {"api_base": fake_gmail.url, "token_url": f"{fake_gmail.url}/token"}
    )
    return fake_gmail


@pytest.fixture
async def notion(account: Account, fake_notion: FakeNotion) -> FakeNotion:
    await account.connect("notion", {"token": fake_notion.token}, {"api_base": fake_notion.url})
    return fake_notion


@pytest.fixture
async def telegram(account: Account, fake_telegram: FakeTelegram) -> FakeTelegram:
    await account.connect("telegram", {"bot_token": fake_telegram.token}, {"api_base": fake_telegram.url})
    return fake_telegram


@pytest.fixture
async def openai(account: Account, fake_openai: FakeOpenAI) -> FakeOpenAI:
    await account.connect("openai", {"api_key": fake_openai.api_key}, {"api_base": fake_openai.api_base})
    return fake_openai
