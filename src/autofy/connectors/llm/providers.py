"""The four LLM services Autofy connects, as data: what differs between them lives here, once.

Everything else (the chat-model factory, the actions, model lists, error mapping) reads a
`Provider`, so adding an OpenAI-compatible service is one more entry, not another copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from autofy.connectors.sdk import AuthenticationError, CredentialField

if TYPE_CHECKING:
    from autofy.connectors.outbound import OutboundPolicy

ApiFlavour = Literal["openai", "anthropic", "gemini"]


@dataclass(frozen=True)
class Provider:
    service_name: str
    display_name: str
    # Which wire protocol (and so which LangChain chat model) the service speaks.
    flavour: ApiFlavour
    default_api_base: str
    default_model: str
    how_to_obtain: str
    api_key_label: str


OPENAI = Provider(
    service_name="openai",
    display_name="OpenAI",
    flavour="openai",
    default_api_base="https://api.openai.com/v1",
    default_model="gpt-4o-mini",
    api_key_label="OpenAI API key",
    how_to_obtain=(
        "Sign in at https://platform.openai.com, open API keys "
        "(https://platform.openai.com/api-keys), choose 'Create new secret key' and paste the key "
        "(it starts with 'sk-'). To use any OpenAI-compatible server instead (Ollama, vLLM, "
        "LM Studio, a proxy), set configuration.api_base to its base URL including '/v1', for "
        "example http://localhost:11434/v1, and any non-empty key if the server ignores keys."
    ),
)

ANTHROPIC = Provider(
    service_name="anthropic",
    display_name="Anthropic",
    flavour="anthropic",
    default_api_base="https://api.anthropic.com",
    default_model="claude-3-5-haiku-latest",
    api_key_label="Anthropic API key",
    how_to_obtain=(
        "Sign in at https://console.anthropic.com, open Settings → API keys, choose "
        "'Create Key' and paste the key (it starts with 'sk-ant-')."
    ),
)

GEMINI = Provider(
    service_name="gemini",
    display_name="Google Gemini",
    flavour="gemini",
    default_api_base="https://generativelanguage.googleapis.com",
    default_model="gemini-2.0-flash",
    api_key_label="Gemini API key",
    how_to_obtain=(
        "Sign in at https://aistudio.google.com, choose 'Get API key' → 'Create API key' and "
        "paste the key. This connects the Gemini Developer API (not Vertex AI)."
    ),
)

OPENROUTER = Provider(
    service_name="openrouter",
    display_name="OpenRouter",
    flavour="openai",
    default_api_base="https://openrouter.ai/api/v1",
    default_model="openai/gpt-4o-mini",
    api_key_label="OpenRouter API key",
    how_to_obtain=(
        "Sign in at https://openrouter.ai, open Keys (https://openrouter.ai/settings/keys), "
        "choose 'Create Key' and paste the key (it starts with 'sk-or-'). Model ids name the "
        "vendor, for example 'anthropic/claude-3.5-haiku' or 'openai/gpt-4o-mini'."
    ),
)

PROVIDERS: dict[str, Provider] = {
    provider.service_name: provider for provider in (OPENAI, ANTHROPIC, GEMINI, OPENROUTER)
}

# Sent to OpenRouter so requests are attributed to Autofy in its dashboards.
OPENROUTER_HEADERS = {"X-Title": "Autofy"}

DEFAULT_TIMEOUT_SECONDS = 60.0


def provider_named(service_name: str) -> Provider:
    try:
        return PROVIDERS[service_name]
    except KeyError:
        raise ValueError(f"{service_name!r} is not an LLM service") from None


def api_key_field(provider: Provider) -> CredentialField:
    return CredentialField(
        name="api_key",
        label=provider.api_key_label,
        description=f"The {provider.display_name} API key Autofy calls the model with.",
    )


GEMINI_API_VERSION = "v1beta"


def api_key(provider: Provider, credentials: Mapping[str, Any]) -> str:
    key = credentials.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise AuthenticationError(f"the {provider.display_name} integration has no API key")
    return key.strip()


def api_base(provider: Provider, configuration: Mapping[str, Any]) -> str:
    configured = configuration.get("api_base")
    return str(configured).rstrip("/") if configured else provider.default_api_base


def timeout_seconds(configuration: Mapping[str, Any]) -> float:
    """The integration's `configuration.timeout_seconds`, for slow local models; else the default."""
    configured = configuration.get("timeout_seconds")
    if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
        return float(configured)
    return DEFAULT_TIMEOUT_SECONDS


def sdk_policy(policy: OutboundPolicy, seconds: float) -> OutboundPolicy:
    """`policy` with room for a model's own timeout: a slow local model may take longer to answer
    than an ordinary API call (`configuration.timeout_seconds`)."""
    return dataclasses.replace(
        policy,
        read_timeout=max(policy.read_timeout, seconds),
        total_timeout=max(policy.total_timeout, seconds),
    )
