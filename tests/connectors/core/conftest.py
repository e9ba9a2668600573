from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from autofy.connectors.catalog import catalog
from autofy.connectors.core import CoreConnector
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.runtime import connector_context, run_action
from autofy.connectors.sdk import ConnectorContext
from tests.fakes.http_echo import HttpEcho

RunCore = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@pytest.fixture
def echo() -> Iterator[HttpEcho]:
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


@pytest.fixture
async def core_ctx() -> AsyncIterator[ConnectorContext]:
    # The fakes listen on 127.0.0.1, so these tests allow the private network; the guard itself
    # is tested with it off in tests/connectors/test_outbound.py.
    policy = OutboundPolicy(allow_private_network=True, read_timeout=3.0, total_timeout=5.0)
    async with connector_context(CoreConnector(), credentials={}, configuration={}, policy=policy) as ctx:
        yield ctx


@pytest.fixture
def run_core(core_ctx: ConnectorContext) -> RunCore:
    """Run a built-in action the way the engine does: rendered configuration in, JSON out."""

    async def run(action_name: str, configuration: dict[str, Any]) -> dict[str, Any]:
        return await run_action(catalog(), "core", action_name, configuration, core_ctx)

    return run
