"""Which of the user's own LLM integrations the assistant talks through, and with which model.

The `default_ai_provider` preference picks the service when the user has an active integration for
it; otherwise the first active LLM integration the user connected. The `default_ai_model`
preference names the model only for the preferred provider (a model id of one vendor means nothing
to another, see `_fits`); else the provider's default model.

Credentials are decrypted here (through the integrations domain), kept in memory for the turn, and
only ever handed to the provider's client: no tool returns them and no prompt contains them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.connectors.llm import PROVIDERS, Provider
from autofy.connectors.outbound import OutboundPolicy
from autofy.integrations import repository as integrations_repository
from autofy.integrations.service import CredentialsUnreadable, decrypted_credentials
from autofy.profiles import repository as profiles_repository
from autofy.security.crypto import CredentialCipher

PREFERRED_PROVIDER_KEY = "default_ai_provider"
PREFERRED_MODEL_KEY = "default_ai_model"
EMBEDDING_MODEL_KEY = "embedding_model"

# The embedding model each service offers by default; all can answer in 1536 dimensions.
DEFAULT_EMBEDDING_MODELS: Mapping[str, str] = {
    "openai": "text-embedding-3-small",
    "openrouter": "openai/text-embedding-3-small",
    "gemini": "gemini-embedding-001",
}


@dataclass(frozen=True)
class ModelAccess:
    """One of the user's LLM integrations, decrypted for the length of a turn."""

    provider: Provider
    integration_id: uuid.UUID
    model: str
    credentials: Mapping[str, Any] = field(repr=False)
    configuration: Mapping[str, Any]

    @property
    def secrets(self) -> list[str]:
        """Every credential value, to scrub from any message shown to the user."""
        return [str(value) for value in self.credentials.values() if value]


async def _preference(session: AsyncSession, key: str) -> Any:
    row = await profiles_repository.get_preference(session, key)
    return None if row is None else row.value


async def _active_llm_integrations(session: AsyncSession) -> list[RowMapping]:
    rows = await integrations_repository.list_integrations(session)
    llm_rows = [row for row in rows if row["service_name"] in PROVIDERS and row["status"] == "active"]
    return sorted(llm_rows, key=lambda row: row["created_at"])


async def _first_decryptable(
    session: AsyncSession, cipher: CredentialCipher, user_id: uuid.UUID, rows: list[RowMapping]
) -> tuple[RowMapping, dict[str, Any]] | None:
    """The first of `rows` whose credentials still decrypt, with them; a row whose key changed is
    skipped, since the next integration may still answer."""
    for row in rows:
        try:
            return row, await decrypted_credentials(
                session, cipher, user_id=user_id, integration_id=row["id"]
            )
        except CredentialsUnreadable:
            continue
    return None


def _fits(model: Any, provider: Provider, preferred: Any) -> bool:
    """Whether the `default_ai_model` preference names a model of `provider`.

    Only for the preferred provider, and never another provider's default model: the defaults
    every account starts with are openai + gpt-4o-mini, and switching the provider alone must not
    send gpt-4o-mini to Anthropic.
    """
    other_defaults = {p.default_model for p in PROVIDERS.values() if p is not provider}
    return (
        provider.service_name == preferred
        and isinstance(model, str)
        and bool(model)
        and model not in other_defaults
    )


async def model_access(
    session: AsyncSession, cipher: CredentialCipher, user_id: uuid.UUID
) -> ModelAccess | None:
    """The LLM integration the assistant uses for `user_id`, or None when there is none usable.

    Its `api_base` is checked, like every request, by the outbound guard the chat model sends through.
    """
    rows = await _active_llm_integrations(session)
    if not rows:
        return None
    preferred = await _preference(session, PREFERRED_PROVIDER_KEY)
    rows.sort(key=lambda row: row["service_name"] != preferred)
    found = await _first_decryptable(session, cipher, user_id, rows)
    if found is None:
        return None
    row, credentials = found
    provider = PROVIDERS[row["service_name"]]
    wanted_model = await _preference(session, PREFERRED_MODEL_KEY)
    model = wanted_model if _fits(wanted_model, provider, preferred) else provider.default_model
    return ModelAccess(provider, row["id"], model, credentials, dict(row["configuration"] or {}))


@dataclass(frozen=True)
class EmbeddingAccess:
    """An integration and model that turn chat messages into 1536-dimension vectors."""

    provider: Provider
    integration_id: uuid.UUID
    model: str
    credentials: Mapping[str, Any] = field(repr=False)
    configuration: Mapping[str, Any]
    policy: OutboundPolicy  # what the embedding client's requests are checked against


async def embedding_access(
    session: AsyncSession, cipher: CredentialCipher, policy: OutboundPolicy, user_id: uuid.UUID
) -> EmbeddingAccess | None:
    """The user's embedding model: the `embedding_model` preference (false turns it off), else the
    default model of their first active OpenAI, OpenRouter or Gemini integration; None if none."""
    chosen = await _preference(session, EMBEDDING_MODEL_KEY)
    if chosen is False:
        return None
    preferred = await _preference(session, PREFERRED_PROVIDER_KEY)
    rows = [
        row
        for row in await _active_llm_integrations(session)
        if row["service_name"] in DEFAULT_EMBEDDING_MODELS
    ]
    rows.sort(key=lambda row: row["service_name"] != preferred)
    found = await _first_decryptable(session, cipher, user_id, rows)
    if found is None:
        return None
    row, credentials = found
    service_name = row["service_name"]
    model = chosen if isinstance(chosen, str) and chosen else DEFAULT_EMBEDDING_MODELS[service_name]
    return EmbeddingAccess(
        PROVIDERS[service_name], row["id"], model, credentials, dict(row["configuration"] or {}), policy
    )
