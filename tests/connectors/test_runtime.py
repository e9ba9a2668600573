"""The runtime around every action: context and client, input and output models, time limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field

from autofy.connectors.catalog import Catalog, catalog
from autofy.connectors.core import CoreConnector
from autofy.connectors.outbound import DestinationRefused, OutboundPolicy
from autofy.connectors.runtime import connector_context, run_action
from autofy.connectors.sdk import (
    Action,
    AuthSpec,
    Connector,
    ConnectorContext,
    PermanentError,
    StrictModel,
    TransientError,
)
from tests.fakes.http_echo import HttpEcho


@pytest.fixture
def echo() -> Iterator[HttpEcho]:
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


class Lookup(StrictModel):
    path: str = Field(description="Which path of the service to read.")


class Found(BaseModel):
    from_: str = Field(alias="from", description="Who sent it.")


class ReadPath(Action[Lookup, Found]):
    name = "read_path"
    display_name = "Read path"
    description = "Reads a path from the service and reports who answered."
    input_model = Lookup
    output_model = Found

    async def run(self, ctx: ConnectorContext, params: Lookup) -> Found:
        response = await ctx.http.get(f"{ctx.api_base('http://127.0.0.1:9')}{params.path}")
        return Found.model_validate({"from": response.json()["path"]})


class PathService(Connector):
    service_name = "paths"
    display_name = "Paths"
    description = "A service declared by the runtime tests, reached on its api_base."
    auth = AuthSpec(kind="api_key", how_to_obtain="Ask the tests.")
    actions = (ReadPath(),)


async def test_outputs_are_json_data_with_field_aliases(echo: HttpEcho) -> None:
    service = PathService()
    policy = OutboundPolicy(allow_private_network=True)
    async with connector_context(
        service, credentials={"api_key": "k"}, configuration={"api_base": echo.url}, policy=policy
    ) as ctx:
        output = await run_action(Catalog([service]), "paths", "read_path", {"path": "/echo"}, ctx)
    assert output == {"from": "/echo"}


async def test_a_user_set_api_base_is_guarded(echo: HttpEcho) -> None:
    service = PathService()
    async with connector_context(
        service, credentials={}, configuration={"api_base": echo.url}, policy=OutboundPolicy()
    ) as ctx:
        with pytest.raises(DestinationRefused):
            await run_action(Catalog([service]), "paths", "read_path", {"path": "/echo"}, ctx)
    assert echo.requests == []


async def test_unknown_actions_and_invalid_inputs_are_permanent_errors() -> None:
    async with connector_context(
        CoreConnector(), credentials={}, configuration={}, policy=OutboundPolicy()
    ) as ctx:
        with pytest.raises(PermanentError, match="did you mean 'format_text'"):
            await run_action(catalog(), "core", "format_txt", {}, ctx)
        with pytest.raises(PermanentError, match=r"invalid configuration: operation: Input should be"):
            await run_action(catalog(), "core", "format_text", {"operation": "shout", "text": "x"}, ctx)


async def test_actions_that_take_too_long_are_stopped(echo: HttpEcho) -> None:
    echo.slow(3.0)
    policy = OutboundPolicy(allow_private_network=True)
    async with connector_context(CoreConnector(), credentials={}, configuration={}, policy=policy) as ctx:
        with pytest.raises(TransientError, match=r"did not finish within 0\.2 s"):
            await run_action(
                catalog(), "core", "http_request", {"url": f"{echo.url}/echo"}, ctx, timeout_seconds=0.2
            )
