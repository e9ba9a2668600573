"""OpenRouter through LangChain; everything but these declarations is shared in autofy.connectors.llm."""

from autofy.connectors.llm.connector import LLMConnector, llm_actions, llm_auth
from autofy.connectors.llm.providers import OPENROUTER


class OpenRouterConnector(LLMConnector):
    service_name = OPENROUTER.service_name
    display_name = OPENROUTER.display_name
    description = "Hundreds of models from many vendors through one OpenRouter key: prompt, extract, classify and summarize."
    auth = llm_auth(OPENROUTER)
    default_api_base = OPENROUTER.default_api_base
    actions = llm_actions(OPENROUTER)


connector = OpenRouterConnector()

__all__ = ["connector"]
