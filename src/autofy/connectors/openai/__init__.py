"""OpenAI through LangChain; everything but these declarations is shared in autofy.connectors.llm."""

from autofy.connectors.llm.connector import LLMConnector, llm_actions, llm_auth
from autofy.connectors.llm.providers import OPENAI


class OpenAIConnector(LLMConnector):
    service_name = OPENAI.service_name
    display_name = OPENAI.display_name
    description = "OpenAI's GPT models, or any OpenAI-compatible server (Ollama, vLLM, LM Studio) set as api_base: prompt, extract, classify and summarize."
    auth = llm_auth(OPENAI)
    default_api_base = OPENAI.default_api_base
    actions = llm_actions(OPENAI)


connector = OpenAIConnector()

__all__ = ["connector"]
