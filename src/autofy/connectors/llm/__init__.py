"""What the OpenAI, Anthropic, Gemini and OpenRouter connectors share, and what the assistant reuses.

- `chat_models.opened_chat_model(service_name, credentials, configuration, policy=..., model=...)`:
  the LangChain chat model for an integration, sending through the outbound guard under `policy`,
  its connections closed after use (`chat_model` builds one the caller closes). It lives in its own
  module, imported only where a model is called: the provider SDKs behind it take seconds to
  import, which a worker that runs no LLM step should not pay at start-up;
  `chat_models.reused_chat_model(clients, integration_id, ...)` takes it from a
  `clients.ModelClients` cache instead (built once, rebuilt when the credentials change), and
  `chat_models.context_chat_model(ctx, ...)` picks one or the other for an action's context (the
  engine's workers keep clients, so LLM steps reuse theirs);
- `provider_errors(display_name, secrets)`: turns what a model call raises into connector errors;
- `token_usage(message)` and `credits_for_usage(input_tokens, output_tokens)`: usage and its price;
- `list_models(ctx)`: the provider's model list (also the connection test).
"""

from autofy.connectors.llm.errors import connector_error, provider_errors
from autofy.connectors.llm.models import ModelList, list_models
from autofy.connectors.llm.providers import PROVIDERS, Provider, provider_named
from autofy.connectors.llm.usage import TokenUsage, credits_for_usage, token_usage

__all__ = [
    "PROVIDERS",
    "ModelList",
    "Provider",
    "TokenUsage",
    "connector_error",
    "credits_for_usage",
    "list_models",
    "provider_errors",
    "provider_named",
    "token_usage",
]
