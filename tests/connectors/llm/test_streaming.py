"""Streaming through the chat-model factory, as the AI assistant uses it: text arrives in pieces,
tool calls arrive whole once merged, and usage is reported at the end, on every provider."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool

from autofy.connectors.llm.chat_models import opened_chat_model
from autofy.connectors.llm.usage import token_usage
from tests.connectors.llm.conftest import LLMService


@tool
def create_workflow(name: str, steps: list[str]) -> str:
    """Create a draft workflow with the given name and step names."""
    return name


async def _merged_stream(llm: LLMService, *, with_tools: bool) -> tuple[int, AIMessageChunk]:
    ctx = llm.context()
    async with opened_chat_model(
        llm.service_name, ctx.credentials, ctx.configuration, policy=ctx.outbound_policy
    ) as model:
        runnable = model.bind_tools([create_workflow]) if with_tools else model
        chunks = [chunk async for chunk in runnable.astream([HumanMessage("Summarize my emails daily")])]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert isinstance(merged, AIMessageChunk)
    return len(chunks), merged


async def test_text_streams_in_pieces_with_usage_at_the_end(llm: LLMService) -> None:
    answer = "Sure: I will draft a workflow that summarizes your new emails every morning."
    llm.fake.reply_text(answer)

    count, merged = await _merged_stream(llm, with_tools=False)

    assert count > 3
    assert merged.text == answer
    usage = token_usage(merged)
    assert (usage.input_tokens, usage.output_tokens) == (4, len(answer.split()))


async def test_tool_calls_stream_and_merge_into_whole_calls(llm: LLMService) -> None:
    llm.fake.reply_tool_call("create_workflow", {"name": "Daily digest", "steps": ["gmail", "summarize"]})

    _, merged = await _merged_stream(llm, with_tools=True)

    assert [(call["name"], call["args"]) for call in merged.tool_calls] == [
        ("create_workflow", {"name": "Daily digest", "steps": ["gmail", "summarize"]})
    ]
    assert token_usage(merged).output_tokens > 0
    assert "create_workflow" in llm.sent().tools
