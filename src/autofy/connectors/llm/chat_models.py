"""One factory for the LangChain chat model behind each LLM service.

Used by the connector actions and by the AI assistant, so both talk to a provider the same way:
the integration's key, its `configuration.api_base` (any OpenAI-compatible server for `openai`), no
retries inside the client (Autofy's engine owns retries and backoff), and a bounded timeout.

Each model gets its own connection pool, closed by `close_chat_model` (or on leaving
`opened_chat_model`): langchain-openai and langchain-anthropic otherwise share pools cached per
process, whose connections outlive the event loop that opened them.

The SDKs behind the models open their own connections, so the outbound guard cannot sit in their
transport as it does for `ctx.http`: `opened_chat_model` checks a user-set `api_base` against the
outbound policy (`check_api_base`) before it builds the model.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cache, cached_property
from typing import Any
from urllib.parse import urlsplit

import anthropic
import certifi
import httpx
import openai
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from autofy.connectors.llm.providers import (
    GEMINI_API_VERSION,
    OPENROUTER,
    OPENROUTER_HEADERS,
    api_base,
    api_key,
    provider_named,
    timeout_seconds,
)
from autofy.connectors.outbound import OutboundPolicy, resolve_checked
from autofy.connectors.sdk import PermanentError, TransientError


class ChatAnthropicOwnPool(ChatAnthropic):
    """ChatAnthropic on a connection pool of its own, closed by `aclose`."""

    @cached_property
    def _async_client(self) -> anthropic.AsyncClient:
        # Without `http_client`, the SDK opens a pool for this client alone.
        return anthropic.AsyncClient(**self._client_params)

    async def aclose(self) -> None:
        if "_async_client" in self.__dict__:
            await self._async_client.close()


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every model's pool: building one loads the CA bundle (~0.1 s)."""
    return ssl.create_default_context(cafile=certifi.where())


async def check_api_base(configuration: Mapping[str, Any], policy: OutboundPolicy) -> None:
    """Refuse a user-set `api_base` whose host is not a public address, unless `policy` allows it.

    Raises `DestinationRefused` (a permanent error) for a private, loopback, link-local or other
    non-public address, a transient error when the name does not resolve. The address is checked,
    not pinned: the SDK resolves the name again when it connects (docs/connectors.md,
    "Outbound guard"). The provider's own default base URL is trusted, as for every connector.
    """
    base = configuration.get("api_base")
    if not base or policy.allow_private_network:
        return
    parts = urlsplit(str(base))
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number
        host = None
    if host is None:
        raise PermanentError(f"the integration's api_base {base!r} has no valid host")
    if f"{host}:{port}" in policy.allowed_hosts:
        return
    try:
        await resolve_checked(host, port, check=True)
    except httpx.ConnectError as error:
        raise TransientError(str(error)) from None


def chat_model(
    service_name: str,
    credentials: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
) -> BaseChatModel:
    """The LangChain chat model for an integration of `service_name` (openai, anthropic, ...).

    `model` defaults to the service's default model, `timeout` (seconds) to the integration's
    `configuration.timeout_seconds`. Errors raised by the returned model are turned into connector
    errors by `autofy.connectors.llm.errors.provider_errors`. Building a model opens no
    connection and checks no address: use `opened_chat_model`, which checks `api_base` against the
    outbound policy and closes the model once done.
    """
    provider = provider_named(service_name)
    key = SecretStr(api_key(provider, credentials))
    base = api_base(provider, configuration)
    model_name = model or provider.default_model
    seconds = timeout if timeout is not None else timeout_seconds(configuration)
    if provider.flavour == "anthropic":
        return ChatAnthropicOwnPool(
            model_name=model_name,
            api_key=key,
            base_url=base,
            temperature=temperature,
            # Anthropic requires max_tokens: without one, the client's default (4096) is sent.
            **({"max_tokens": max_tokens} if max_tokens is not None else {}),
            timeout=seconds,
            max_retries=0,
        )
    if provider.flavour == "gemini":
        return ChatGoogleGenerativeAI(
            model=model_name,
            google_api_key=key,
            base_url=base,
            # The version the Gemini API reference documents and `list_models` calls.
            api_version=GEMINI_API_VERSION,
            vertexai=False,
            temperature=temperature,
            max_output_tokens=max_tokens,
            timeout=seconds,
            # The google-genai SDK reads 0 as "its own default (several attempts)"; 1 is one try.
            max_retries=1,
            client_args={"verify": _tls_context()},
        )
    headers: dict[str, str] = dict(OPENROUTER_HEADERS) if provider is OPENROUTER else {}
    if provider is OPENROUTER and configuration.get("site_url"):
        headers["HTTP-Referer"] = str(configuration["site_url"])
    organization = configuration.get("organization")
    return ChatOpenAI(
        model=model_name,
        api_key=key,
        base_url=base,
        organization=str(organization) if organization else None,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=seconds,
        max_retries=0,
        stream_usage=True,
        default_headers=headers or None,
        http_async_client=openai.DefaultAsyncHttpxClient(verify=_tls_context()),
    )


@asynccontextmanager
async def opened_chat_model(
    service_name: str,
    credentials: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    policy: OutboundPolicy,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    request_timeout: float | None = None,
) -> AsyncIterator[BaseChatModel]:
    """`chat_model` once its `api_base` passed `check_api_base(configuration, policy)`, its
    connections closed on exit (on the event loop that used them)."""
    await check_api_base(configuration, policy)
    llm = chat_model(
        service_name,
        credentials,
        configuration,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=request_timeout,
    )
    try:
        yield llm
    finally:
        await close_chat_model(llm)


async def close_chat_model(llm: BaseChatModel) -> None:
    """Close the connections of a model made by `chat_model`, on the loop that used it."""
    if isinstance(llm, ChatGoogleGenerativeAI | ChatAnthropicOwnPool):
        await llm.aclose()
    elif isinstance(llm, ChatOpenAI) and llm.root_async_client is not None:
        await llm.root_async_client.close()
