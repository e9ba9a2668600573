"""Gemini through LangChain; everything but these declarations is shared in autofy.connectors.llm."""

from autofy.connectors.llm.connector import LLMConnector, llm_actions, llm_auth
from autofy.connectors.llm.providers import GEMINI


class GeminiConnector(LLMConnector):
    service_name = GEMINI.service_name
    display_name = GEMINI.display_name
    description = "Google's Gemini models (Gemini Developer API): prompt, extract, classify and summarize."
    auth = llm_auth(GEMINI)
    default_api_base = GEMINI.default_api_base
    actions = llm_actions(GEMINI)


connector = GeminiConnector()

__all__ = ["connector"]
