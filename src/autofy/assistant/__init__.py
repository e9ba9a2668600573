"""The AI assistant: a LangChain tool-calling loop on the user's own LLM integration that turns a
conversation into a validated draft workflow (docs/assistant.md)."""
