"""Embeddings of chat messages, through the user's own OpenAI, OpenRouter or Gemini integration.

Every vector has `EMBEDDING_DIMENSIONS` (the column's size): OpenAI's text-embedding-3 models and
Gemini's embedding models shorten their vectors to it on request (`dimensions`,
`output_dimensionality`). Requests go through the outbound guard, as the chat models' do; each
integration's client is built once and reused from the process's `ModelClients`. A
provider failure raises a `ConnectorError`; callers decide that a message without an embedding is
still a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx2
from langchain_core.embeddings import Embeddings
from langchain_google_genai import GoogleGenerativeAIEmbeddings
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from autofy.assistant.providers import EmbeddingAccess
from autofy.connectors.llm import provider_errors
from autofy.connectors.llm.clients import ModelClients, fingerprint
from autofy.connectors.llm.providers import (
    GEMINI_API_VERSION,
    api_base,
    api_key,
    sdk_policy,
    timeout_seconds,
)
from autofy.connectors.outbound import GuardedTransport, sdk_http_client
from autofy.connectors.sdk import PermanentError
from autofy.db.tables import EMBEDDING_DIMENSIONS


async def embed(clients: ModelClients, access: EmbeddingAccess, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, in order, by the access's client from `clients` (built once and reused
    while the integration's credentials and configuration stay the same)."""
    provider = access.provider
    key = api_key(provider, access.credentials)
    async with (
        provider_errors(provider.display_name, [key]),
        clients.lease(
            ("embeddings", access.integration_id, access.model, access.policy),
            fingerprint(access.credentials, access.configuration),
            lambda: _client(access, key),
            _close,
        ) as client,
    ):
        vectors = await client.embeddings.aembed_documents(list(texts))
    if len(vectors) != len(texts) or any(len(vector) != EMBEDDING_DIMENSIONS for vector in vectors):
        raise PermanentError(
            f"{access.model} did not answer with {EMBEDDING_DIMENSIONS}-dimension vectors; "
            "choose another embedding model (the `embedding_model` preference)"
        )
    return vectors


@dataclass(frozen=True)
class _EmbeddingsClient:
    embeddings: Embeddings
    # What holds its connections: closed when the cache retires the client.
    pool: httpx2.AsyncClient | GuardedTransport


def _client(access: EmbeddingAccess, key: str) -> _EmbeddingsClient:
    policy = sdk_policy(access.policy, timeout_seconds(access.configuration))
    base = api_base(access.provider, access.configuration)
    if access.provider.flavour == "gemini":
        transport = GuardedTransport(policy)
        gemini = GoogleGenerativeAIEmbeddings(
            model=access.model,
            google_api_key=SecretStr(key),
            base_url=base,
            api_version=GEMINI_API_VERSION,
            output_dimensionality=EMBEDDING_DIMENSIONS,
            client_args={"transport": transport},
        )
        return _EmbeddingsClient(gemini, transport)
    http_client = sdk_http_client(policy)
    openai = OpenAIEmbeddings(
        model=access.model,
        openai_api_key=SecretStr(key),
        openai_api_base=base,
        dimensions=EMBEDDING_DIMENSIONS,
        # Send the texts as they are: counting tokens first would download tiktoken's tables.
        check_embedding_ctx_length=False,
        max_retries=0,
        request_timeout=timeout_seconds(access.configuration),
        http_async_client=http_client,
    )
    return _EmbeddingsClient(openai, http_client)


async def _close(client: _EmbeddingsClient) -> None:
    await client.pool.aclose()
