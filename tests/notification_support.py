"""What the notification tests share: a real SMTP server (aiosmtpd) that keeps what it receives,
real engine workers, and runs that fail."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from autofy.config import Settings
from autofy.engine.worker import run_workers
from tests.api_fixtures import SignedUpUser
from tests.engine.conftest import TEST_ENGINE_CONFIG, TEST_POLICY
from tests.engine.steps import format_text

XSS_NAME = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Inbox:
    """An SMTP server on loopback; `messages` holds every email it accepted, parsed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


async def wait_until(check: Callable[[], Any], *, within: float = 20.0, what: str) -> Any:
    """Poll `check` (sync or async) until it returns something truthy, or fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running_workers(database_url: str, settings: Settings) -> AsyncIterator[None]:
    """The production workers (engine runs and notification emails) for the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_workers(database_url, settings, stop, config=TEST_ENGINE_CONFIG, policy=TEST_POLICY)
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def create_failing_workflow(
    client: httpx.AsyncClient, user: SignedUpUser, name: str = "Nightly report"
) -> str:
    """A workflow whose only step reads a field no trigger sends: every run of it fails."""
    created = await client.post(
        "/api/v1/workflows",
        headers=user.headers,
        json={"name": name, "trigger_type": "manual", "steps": [format_text("{{ trigger.missing }}")]},
    )
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    return workflow_id


async def run_to_the_end(
    client: httpx.AsyncClient,
    user: SignedUpUser,
    workflow_id: str,
    trigger_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a run and wait until the workers have finished it; the execution as the API shows it."""
    started = await client.post(
        f"/api/v1/workflows/{workflow_id}/run", headers=user.headers, json=trigger_data or {}
    )
    assert started.status_code == 202, started.text
    execution_id = uuid.UUID(started.json()["execution_id"])

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/v1/executions/{execution_id}", headers=user.headers)
        ).json()
        return body if body["execution_status"] != "running" else None

    result: dict[str, Any] = await wait_until(finished, what=f"execution {execution_id} to finish")
    return result
