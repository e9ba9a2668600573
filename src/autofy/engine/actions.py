"""How the engine calls the connector catalog: one place between a step and `runtime.run_action`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autofy.connectors.catalog import Catalog, UnknownService
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.outbound import OutboundPolicy, outbound_client
from autofy.connectors.runtime import connector_context, run_action
from autofy.connectors.sdk import PermanentError, SaveCredentials

# Built-in steps with no effect outside the run: running one again after a crash changes nothing,
# so they need no checkpoint of their own (docs/engine.md, "Checkpoints").
INSTANT_ACTIONS = frozenset(
    {
        ("core", "set_fields"),
        ("core", "format_text"),
        ("core", "format_number"),
        ("core", "format_date"),
        ("core", "filter"),
    }
)


def is_instant(step: Mapping[str, Any]) -> bool:
    return (step["service_name"], step["action_name"]) in INSTANT_ACTIONS


@dataclass
class Credentials:
    """An integration's decrypted credentials and configuration, for the length of one job."""

    integration_id: uuid.UUID
    secrets: dict[str, Any]
    configuration: dict[str, Any]
    status: str | None
    # Why the stored credentials cannot be used (they do not decrypt with the configured keys).
    problem: str | None = None


@dataclass(frozen=True)
class ActionCall:
    output: dict[str, Any]
    # What the run is charged: the action's flat credits plus the usage charge an LLM reports.
    credits: int


class ActionInvoker:
    """Runs catalog actions for steps, with the integration's credentials where one is needed."""

    def __init__(self, catalog: Catalog, policy: OutboundPolicy, model_clients: ModelClients) -> None:
        self.catalog = catalog
        self.policy = policy
        # LLM steps take their integration's chat model from here rather than building one each:
        # building one costs tens of milliseconds and a connection pool of its own.
        self.model_clients = model_clients
        # Lent to instant steps, which make no HTTP call: building a client per step was the
        # largest single cost of running one (docs/performance.md). Steps that do call get a
        # client of their own, so no cookie or connection is ever shared between runs.
        self.idle_http = outbound_client(policy)

    async def aclose(self) -> None:
        await self.idle_http.aclose()

    def requires_integration(self, service_name: str) -> bool:
        try:
            return self.catalog.connector(service_name).requires_integration
        except UnknownService:
            return False  # the step fails with the catalog's own message when it runs

    async def invoke(
        self,
        service_name: str,
        action_name: str,
        configuration: Mapping[str, Any],
        *,
        credentials: Credentials | None,
        save_credentials: SaveCredentials,
    ) -> ActionCall:
        try:
            connector = self.catalog.connector(service_name)
        except UnknownService as error:
            raise PermanentError(error.message) from None
        if connector.requires_integration and credentials is None:
            raise PermanentError(
                f"no {connector.display_name} account is connected: connect one under Integrations"
            )
        if credentials is not None and credentials.problem is not None:
            raise PermanentError(credentials.problem)
        async with connector_context(
            connector,
            credentials=credentials.secrets if credentials else {},
            configuration=credentials.configuration if credentials else {},
            policy=self.policy,
            save_credentials=save_credentials,
            http=self.idle_http if (service_name, action_name) in INSTANT_ACTIONS else None,
            model_clients=self.model_clients,
            integration_id=credentials.integration_id if credentials else None,
        ) as ctx:
            output = await run_action(self.catalog, service_name, action_name, configuration, ctx)
        action = self.catalog.action(service_name, action_name)
        usage = output.get("usage")
        usage_credits = int(usage.get("credits", 0)) if isinstance(usage, Mapping) else 0
        return ActionCall(output=output, credits=action.credits + usage_credits)
