"""Model lists from the providers: their cheapest authenticated call, also the connection test.

Plain HTTP through the runtime's client (`ctx.http`: timeouts, outbound guard) rather than the
LangChain models, which have no model-list call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from autofy.connectors.llm.errors import GEMINI_INVALID_KEY_REASON, gemini_key_invalid, provider_message
from autofy.connectors.llm.providers import GEMINI_API_VERSION, Provider, api_base, api_key, provider_named
from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
    json_body,
    send,
)

ANTHROPIC_VERSION = "2023-06-01"
# A bound on pagination, so a misbehaving server cannot keep the test call going forever.
MAX_PAGES = 20


@dataclass
class ModelList:
    models: list[str]
    # Who the key belongs to, where the provider says so (an organization id), else None.
    account: str | None


def _error_message(response: httpx.Response) -> str | None:
    body = response.json()
    message = provider_message(body)
    if message is not None and gemini_key_invalid(body):
        return f"{message} ({GEMINI_INVALID_KEY_REASON})"
    return message


async def _get(
    ctx: ConnectorContext, provider: Provider, url: str, headers: Mapping[str, str], params: dict[str, str]
) -> tuple[Any, httpx.Response]:
    request = ctx.http.build_request("GET", url, headers=dict(headers), params=params)
    try:
        response = await send(ctx, request, provider=provider.display_name, error_message=_error_message)
    except PermanentError as error:
        if error.status_code == 400 and GEMINI_INVALID_KEY_REASON in error.message:
            raise AuthenticationError(error.message, status_code=400) from None
        raise
    body = json_body(response, provider=provider.display_name)
    if not isinstance(body, dict):
        raise TransientError(f"{provider.display_name} answered with a malformed model list")
    return body, response


def _ids(body: dict[str, Any], provider: Provider, key: str, field: str) -> list[str]:
    entries = body.get(key)
    if not isinstance(entries, list):
        raise TransientError(f"{provider.display_name} answered with a malformed model list")
    return [str(entry[field]) for entry in entries if isinstance(entry, dict) and field in entry]


async def _openai_models(ctx: ConnectorContext, provider: Provider, key: str) -> ModelList:
    body, response = await _get(
        ctx,
        provider,
        f"{api_base(provider, ctx.configuration)}/models",
        {"Authorization": f"Bearer {key}"},
        {},
    )
    return ModelList(_ids(body, provider, "data", "id"), response.headers.get("openai-organization"))


async def _anthropic_models(ctx: ConnectorContext, provider: Provider, key: str) -> ModelList:
    headers = {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
    url = f"{api_base(provider, ctx.configuration)}/v1/models"
    models: list[str] = []
    params = {"limit": "1000"}
    account = None
    for _ in range(MAX_PAGES):
        body, response = await _get(ctx, provider, url, headers, params)
        account = account or response.headers.get("anthropic-organization-id")
        models.extend(_ids(body, provider, "data", "id"))
        if not body.get("has_more") or not body.get("last_id"):
            break
        params = {"limit": "1000", "after_id": str(body["last_id"])}
    return ModelList(models, account)


async def _gemini_models(ctx: ConnectorContext, provider: Provider, key: str) -> ModelList:
    url = f"{api_base(provider, ctx.configuration)}/{GEMINI_API_VERSION}/models"
    models: list[str] = []
    params = {"pageSize": "1000"}
    for _ in range(MAX_PAGES):
        body, _response = await _get(ctx, provider, url, {"x-goog-api-key": key}, params)
        entries = body.get("models", [])
        if not isinstance(entries, list):
            raise TransientError(f"{provider.display_name} answered with a malformed model list")
        models.extend(
            str(entry["name"]).removeprefix("models/")
            for entry in entries
            # Only models that chat: embedding and other models cannot run these actions.
            if isinstance(entry, dict)
            and "name" in entry
            and "generateContent" in entry.get("supportedGenerationMethods", ["generateContent"])
        )
        token = body.get("nextPageToken")
        if not token:
            break
        params = {"pageSize": "1000", "pageToken": str(token)}
    return ModelList(models, None)


async def list_models(ctx: ConnectorContext) -> ModelList:
    """The models the integration's key may use, as the provider lists them (sorted ids)."""
    provider = provider_named(ctx.service_name)
    key = api_key(provider, ctx.credentials)
    if provider.flavour == "anthropic":
        found = await _anthropic_models(ctx, provider, key)
    elif provider.flavour == "gemini":
        found = await _gemini_models(ctx, provider, key)
    else:
        found = await _openai_models(ctx, provider, key)
    return ModelList(sorted(set(found.models)), found.account)
