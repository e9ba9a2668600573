"""The connector every LLM service is: API-key auth, the model list as connection test, 4 actions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autofy.connectors.llm.actions import Classify, Extract, Prompt, Summarize
from autofy.connectors.llm.models import list_models
from autofy.connectors.llm.providers import Provider, api_key_field
from autofy.connectors.sdk import Action, AuthSpec, ConnectionTestResult, Connector, ConnectorContext


def llm_actions(provider: Provider) -> Sequence[Action[Any, Any]]:
    return (Prompt(provider), Extract(provider), Classify(provider), Summarize(provider))


def llm_auth(provider: Provider) -> AuthSpec:
    return AuthSpec(kind="api_key", fields=[api_key_field(provider)], how_to_obtain=provider.how_to_obtain)


class LLMConnector(Connector):
    """Subclasses set the class attributes from their `Provider`."""

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        """List the models (the cheapest call that proves the key); failures raise connector errors."""
        found = await list_models(ctx)
        return ConnectionTestResult(
            ok=True,
            message=f"connected to {self.display_name}: {len(found.models)} models available",
            account=found.account,
        )
