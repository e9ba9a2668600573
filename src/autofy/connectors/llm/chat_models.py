"""One factory for the LangChain chat model behind each LLM service.

Used by the connector actions and by the AI assistant, so both talk to a provider the same way:
the integration's key, its `configuration.api_base` (any OpenAI-compatible server for `openai`), no
retries inside the client (Autofy's engine owns retries and backoff), and a bounded timeout.

Every model sends through the outbound guard (`autofy.connectors.outbound`): the openai and
anthropic SDKs get an httpx2 client on the guard (`sdk_http_client`), google-genai the guard as
its transport, so a base URL, and every redirect its server answers with, is checked and pinned
like any other outbound request. Each model gets its own connection pool, closed by
`close_chat_model` (or on leaving `opened_chat_model`) on the event loop that used it.
`reused_chat_model` takes the model from a `ModelClients` cache instead: built once per
integration, model and settings, rebuilt when the integration's credentials change.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from typing import Any

import anthropic
import httpx2
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr, SecretStr

from autofy.connectors.llm.clients import ModelClients, fingerprint
from autofy.connectors.llm.providers import (
    GEMINI_API_VERSION,
    OPENROUTER,
    OPENROUTER_HEADERS,
    api_base,
    api_key,
    provider_named,
    sdk_policy,
    timeout_seconds,
)
from autofy.connectors.outbound import GuardedTransport, OutboundPolicy, sdk_http_client
from autofy.connectors.sdk import ConnectorContext


class ChatAnthropicOwnPool(ChatAnthropic):
    """ChatAnthropic on an HTTP client of its own (the outbound guard's), closed by `aclose`."""

    _http_client: httpx2.AsyncClient | None = PrivateAttr(default=None)

    @cached_property
    def _async_client(self) -> anthropic.AsyncClient:
        return anthropic.AsyncClient(**self._client_params, http_client=self._http_client)

    async def aclose(self) -> None:
        if "_async_client" in self.__dict__:
            await self._async_client.close()
        elif self._http_client is not None:
            await self._http_client.aclose()


def chat_model(
    service_name: str,
    credentials: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    policy: OutboundPolicy,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
) -> BaseChatModel:
    """The LangChain chat model for an integration of `service_name` (openai, anthropic, ...).

    `model` defaults to the service's default model, `timeout` (seconds) to the integration's
    `configuration.timeout_seconds`. Errors raised by the returned model are turned into connector
    errors by `autofy.connectors.llm.errors.provider_errors`. Every request goes through the
    outbound guard under `policy`. Building a model opens no connection; close it with
    `close_chat_model`, or use `opened_chat_model`, which does.
    """
    provider = provider_named(service_name)
    key = SecretStr(api_key(provider, credentials))
    base = api_base(provider, configuration)
    model_name = model or provider.default_model
    seconds = timeout if timeout is not None else timeout_seconds(configuration)
    guarded = sdk_policy(policy, seconds)
    if provider.flavour == "anthropic":
        llm = ChatAnthropicOwnPool(
            model_name=model_name,
            api_key=key,
            base_url=base,
            temperature=temperature,
            # Anthropic requires max_tokens: without one, the client's default (4096) is sent.
            **({"max_tokens": max_tokens} if max_tokens is not None else {}),
            timeout=seconds,
            max_retries=0,
        )
        llm._http_client = sdk_http_client(guarded)
        return llm
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
            client_args={"transport": GuardedTransport(guarded)},
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
        http_async_client=sdk_http_client(guarded),
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
    """`chat_model`, its connections closed on exit (on the event loop that used them)."""
    llm = chat_model(
        service_name,
        credentials,
        configuration,
        policy=policy,
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


def reused_chat_model(
    clients: ModelClients,
    integration_id: uuid.UUID,
    service_name: str,
    credentials: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    policy: OutboundPolicy,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> AbstractAsyncContextManager[BaseChatModel]:
    """`chat_model` for the integration `integration_id`, from `clients`: reused while the
    integration's credentials and configuration stay the same, rebuilt when they change."""
    return clients.lease(
        ("chat", integration_id, service_name, model, temperature, max_tokens, policy),
        fingerprint(credentials, configuration),
        lambda: chat_model(
            service_name,
            credentials,
            configuration,
            policy=policy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
        ),
        close_chat_model,
    )


def context_chat_model(
    ctx: ConnectorContext,
    *,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> AbstractAsyncContextManager[BaseChatModel]:
    """The chat model of the integration `ctx` holds: from `ctx.model_clients` when the caller keeps
    clients (the engine's workers), else one built for this call and closed after it."""
    if ctx.model_clients is None or ctx.integration_id is None:
        return opened_chat_model(
            ctx.service_name,
            ctx.credentials,
            ctx.configuration,
            policy=ctx.outbound_policy,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
        )
    return reused_chat_model(
        ctx.model_clients,
        ctx.integration_id,
        ctx.service_name,
        ctx.credentials,
        ctx.configuration,
        policy=ctx.outbound_policy,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
    )
