"""Anthropic through LangChain; everything but these declarations is shared in autofy.connectors.llm."""

from autofy.connectors.llm.connector import LLMConnector, llm_actions, llm_auth
from autofy.connectors.llm.providers import ANTHROPIC


class AnthropicConnector(LLMConnector):
    service_name = ANTHROPIC.service_name
    display_name = ANTHROPIC.display_name
    description = "Anthropic's Claude models: prompt, extract, classify and summarize."
    auth = llm_auth(ANTHROPIC)
    default_api_base = ANTHROPIC.default_api_base
    actions = llm_actions(ANTHROPIC)


connector = AnthropicConnector()

__all__ = ["connector"]
