"""Embeddings of chat messages, through the user's own OpenAI, OpenRouter or Gemini integration.

Every vector has `EMBEDDING_DIMENSIONS` (the column's size): OpenAI's text-embedding-3 models and
Gemini's embedding models shorten their vectors to it on request (`dimensions`,
`output_dimensionality`). Requests go through the outbound guard, as the chat models' do. A
provider failure raises a `ConnectorError`; callers decide that a message without an embedding is
still a message.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_google_genai import GoogleGenerativeAIEmbeddings
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from autofy.assistant.providers import EmbeddingAccess
from autofy.connectors.llm import provider_errors
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


async def embed(access: EmbeddingAccess, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, in order."""
    provider = access.provider
    key = api_key(provider, access.credentials)
    async with provider_errors(provider.display_name, [key]):
        if provider.flavour == "gemini":
            vectors = await _gemini(access, key, texts)
        else:
            vectors = await _openai_compatible(access, key, texts)
    if len(vectors) != len(texts) or any(len(vector) != EMBEDDING_DIMENSIONS for vector in vectors):
        raise PermanentError(
            f"{access.model} did not answer with {EMBEDDING_DIMENSIONS}-dimension vectors; "
            "choose another embedding model (the `embedding_model` preference)"
        )
    return vectors


async def _openai_compatible(access: EmbeddingAccess, key: str, texts: Sequence[str]) -> list[list[float]]:
    seconds = timeout_seconds(access.configuration)
    http_client = sdk_http_client(sdk_policy(access.policy, seconds))
    try:
        embeddings = OpenAIEmbeddings(
            model=access.model,
            openai_api_key=SecretStr(key),
            openai_api_base=api_base(access.provider, access.configuration),
            dimensions=EMBEDDING_DIMENSIONS,
            # Send the texts as they are: counting tokens first would download tiktoken's tables.
            check_embedding_ctx_length=False,
            max_retries=0,
            request_timeout=seconds,
            http_async_client=http_client,
        )
        return await embeddings.aembed_documents(list(texts))
    finally:
        await http_client.aclose()


async def _gemini(access: EmbeddingAccess, key: str, texts: Sequence[str]) -> list[list[float]]:
    transport = GuardedTransport(sdk_policy(access.policy, timeout_seconds(access.configuration)))
    try:
        embeddings = GoogleGenerativeAIEmbeddings(
            model=access.model,
            google_api_key=SecretStr(key),
            base_url=api_base(access.provider, access.configuration),
            api_version=GEMINI_API_VERSION,
            output_dimensionality=EMBEDDING_DIMENSIONS,
            client_args={"transport": transport},
        )
        return await embeddings.aembed_documents(list(texts))
    finally:
        await transport.aclose()
