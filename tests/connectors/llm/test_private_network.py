"""An LLM integration's `api_base` goes through the outbound policy although the provider SDKs open
their own connections: a loopback address is refused before any connection unless the server
allows the private network (or names the host), on the path the engine runs actions through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from autofy.connectors.catalog import catalog
from autofy.connectors.outbound import DestinationRefused, OutboundPolicy
from autofy.connectors.runtime import connector_context, run_action
from autofy.connectors.sdk import ConnectorContext, ConnectorError
from tests.connectors.llm.conftest import CONNECTORS, SERVICES, LLMService

API_KEY = "sk-test-0123456789"


@dataclass
class Listener:
    """A TCP listener on loopback that counts the connections it accepts."""

    port: int = 0
    connections: int = 0

    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    listener = Listener()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener.connections += 1
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    async with server:
        yield listener


async def _prompt(
    service_name: str, api_base: str, policy: OutboundPolicy, api_key: str = API_KEY
) -> dict[str, Any]:
    async with connector_context(
        CONNECTORS[service_name],
        credentials={"api_key": api_key},
        configuration={"api_base": api_base},
        policy=policy,
    ) as ctx:
        return await run_action(catalog(), service_name, "prompt", {"prompt": "Hello"}, ctx)


@pytest.mark.parametrize("service_name", SERVICES)
async def test_a_loopback_api_base_is_refused_without_connecting(
    service_name: str, listener: Listener
) -> None:
    with pytest.raises(DestinationRefused, match="loopback address"):
        await _prompt(service_name, listener.api_base(), OutboundPolicy(allow_private_network=False))

    assert listener.connections == 0


@pytest.mark.parametrize("service_name", SERVICES)
async def test_the_listener_sees_the_connection_once_the_private_network_is_allowed(
    service_name: str, listener: Listener
) -> None:
    # The counterpart of the refusal above: the same call, allowed, does reach the listener.
    with pytest.raises(ConnectorError):
        await _prompt(service_name, listener.api_base(), OutboundPolicy(allow_private_network=True))

    assert listener.connections >= 1


async def test_a_loopback_api_base_answers_when_the_private_network_is_allowed(llm: LLMService) -> None:
    llm.fake.reply_text("Hello from the local model.")

    output = await _prompt(
        llm.service_name, llm.fake.api_base, OutboundPolicy(allow_private_network=True), llm.fake.api_key
    )

    assert output["text"] == "Hello from the local model."
    assert llm.chat_requests()


async def test_an_allowed_host_skips_the_check_for_that_host_only(
    llm: LLMService, listener: Listener
) -> None:
    llm.fake.reply_text("Hello from the trusted host.")
    fake_port = urlsplit(llm.fake.api_base).port
    policy = OutboundPolicy(allowed_hosts=frozenset({f"127.0.0.1:{fake_port}"}))

    output = await _prompt(llm.service_name, llm.fake.api_base, policy, llm.fake.api_key)
    with pytest.raises(DestinationRefused):
        await _prompt(llm.service_name, listener.api_base(), policy)

    assert output["text"] == "Hello from the trusted host."
    assert listener.connections == 0


def test_a_context_built_without_a_policy_gets_the_strict_one(http: httpx.AsyncClient) -> None:
    ctx = ConnectorContext(service_name="openai", credentials={}, configuration={}, http=http)

    assert ctx.outbound_policy == OutboundPolicy()
    assert not ctx.outbound_policy.allow_private_network
