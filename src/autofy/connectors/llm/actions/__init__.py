"""The four LLM actions, each implemented once and instantiated per provider."""

from autofy.connectors.llm.actions.classify import Classify
from autofy.connectors.llm.actions.extract import Extract
from autofy.connectors.llm.actions.prompt import Prompt
from autofy.connectors.llm.actions.summarize import Summarize

__all__ = ["Classify", "Extract", "Prompt", "Summarize"]
