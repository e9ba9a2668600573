"""Pytest plugin: function-scoped fake Gmail, Notion and Telegram servers, started and stopped.

Register with `pytest_plugins = ["tests.fakes.service_fixtures"]` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.gmail import FakeGmail
from tests.fakes.notion import FakeNotion
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
def fake_gmail() -> Iterator[FakeGmail]:
    with FakeGmail().running() as server:
        assert isinstance(server, FakeGmail)
        yield server


@pytest.fixture
def fake_notion() -> Iterator[FakeNotion]:
    with FakeNotion().running() as server:
        assert isinstance(server, FakeNotion)
        yield server


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram().running() as server:
        assert isinstance(server, FakeTelegram)
        yield server


class CredentialsRecorder:
    """Stands in for the runtime's `save_credentials`: keeps every dict a connector saved."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    async def __call__(self, credentials: dict[str, Any]) -> None:
        self.saved.append(dict(credentials))


@pytest.fixture
def saved_credentials() -> CredentialsRecorder:
    return CredentialsRecorder()


@pytest.fixture
async def service_http() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client a ConnectorContext gets in tests: short timeouts, like the runtime's."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as client:
        yield client
