"""Running one action for a step: its context (credentials, configuration, HTTP client) and the
checks around `run` (input model, output model, time limit)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from autofy.connectors.catalog import Catalog, UnknownAction, UnknownService
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.outbound import OutboundPolicy, outbound_client
from autofy.connectors.sdk import (
    Connector,
    ConnectorContext,
    PermanentError,
    SaveCredentials,
    TransientError,
    discard_credentials,
)

# An action's whole run, retries of the engine aside; LLM calls are the slowest legitimate ones.
DEFAULT_ACTION_TIMEOUT_SECONDS = 300.0
ModelT = TypeVar("ModelT", bound=BaseModel)


@asynccontextmanager
async def connector_context(
    connector: Connector,
    *,
    credentials: Mapping[str, Any],
    configuration: Mapping[str, Any],
    policy: OutboundPolicy,
    save_credentials: SaveCredentials = discard_credentials,
    http: httpx.AsyncClient | None = None,
    model_clients: ModelClients | None = None,
    integration_id: uuid.UUID | None = None,
) -> AsyncIterator[ConnectorContext]:
    """A context for one call to `connector`, its HTTP client closed on exit.

    `credentials` are the integration's decrypted credentials (empty for built-in steps),
    `configuration` its non-secret configuration (`api_base`, `token_url` among it). Every request
    goes through the outbound guard, whichever configuration field its URL came from. `http`: a
    client the caller keeps (for actions that make no call, so none is built per call); it must
    be an `outbound_client` too. `model_clients` and `integration_id`: LLM clients the caller keeps,
    reused for this integration's model calls.
    """
    async with AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(outbound_client(policy))
        yield ConnectorContext(
            service_name=connector.service_name,
            credentials=credentials,
            configuration=configuration,
            http=http,
            save_credentials=save_credentials,
            outbound_policy=policy,
            model_clients=model_clients,
            integration_id=integration_id,
        )


def parse_input(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Rendered configuration into its model; a mismatch is a permanent error naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'configuration'}: "
            + detail["msg"].removeprefix("Value error, ")
            for detail in error.errors()
        )
        raise PermanentError(f"invalid configuration: {details}") from None


async def run_action(
    catalog: Catalog,
    service_name: str,
    action_name: str,
    configuration: Mapping[str, Any],
    ctx: ConnectorContext,
    *,
    timeout_seconds: float = DEFAULT_ACTION_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Run an action on its rendered configuration and return its output as JSON-able data."""
    try:
        action = catalog.action(service_name, action_name)
    except (UnknownService, UnknownAction) as error:
        raise PermanentError(error.message) from None
    params = parse_input(action.input_model, configuration)
    try:
        async with asyncio.timeout(timeout_seconds):
            output = await action.run(ctx, params)
    except TimeoutError:
        raise TransientError(
            f"{service_name}/{action_name} did not finish within {timeout_seconds:g} s"
        ) from None
    if not isinstance(output, action.output_model):
        raise TypeError(f"{service_name}/{action_name} returned {type(output).__name__}")
    result: dict[str, Any] = output.model_dump(mode="json", by_alias=True)
    return result
