"""The four LLM actions succeed on every provider: the answer, the usage charged and the request
the provider received."""

from __future__ import annotations

import pytest

from autofy.connectors.llm.actions.classify import ClassifyOutput
from autofy.connectors.llm.actions.extract import EXTRACTION_TOOL, ExtractOutput
from autofy.connectors.llm.actions.prompt import PromptOutput
from autofy.connectors.llm.actions.summarize import SummarizeOutput
from autofy.connectors.sdk import PermanentError
from tests.connectors.llm.conftest import LLMService

INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
    },
    "required": ["invoice_number", "total"],
}
INVOICE_EMAIL = "Hello, please find invoice INV-2041 attached. Amount due: 1,250.50 EUR by 30 June."


async def test_prompt_returns_the_models_text_and_usage(llm: LLMService) -> None:
    llm.fake.reply_text("Paris is the capital of France.")

    output = await llm.run(
        "prompt",
        system="Answer in one sentence.",
        prompt="What is the capital of France?",
        temperature=0.2,
        max_tokens=50,
    )

    assert isinstance(output, PromptOutput)
    assert output.text == "Paris is the capital of France."
    assert output.model == llm.default_model
    # The fakes count words: 4 system + 6 prompt in, 6 out.
    assert (output.usage.input_tokens, output.usage.output_tokens, output.usage.total_tokens) == (10, 6, 16)
    assert output.usage.credits == 1
    sent = llm.sent()
    assert (sent.model, sent.system, sent.user) == (
        llm.default_model,
        "Answer in one sentence.",
        "What is the capital of France?",
    )
    assert sent.temperature == pytest.approx(0.2)
    assert sent.max_tokens == 50


async def test_prompt_uses_the_model_asked_for_and_charges_tokens_in_credits(llm: LLMService) -> None:
    llm.fake.reply_text("A long answer.", input_tokens=1800, output_tokens=700)

    output = await llm.run("prompt", model="some-other-model", prompt="Write at length.")

    assert isinstance(output, PromptOutput)
    assert llm.sent().model == "some-other-model"
    assert llm.sent().system == ""
    assert output.usage.total_tokens == 2500
    assert output.usage.credits == 3  # 2,500 tokens: three started thousands


async def test_extract_returns_schema_valid_data_through_a_forced_tool_call(llm: LLMService) -> None:
    llm.fake.reply_tool_call(
        EXTRACTION_TOOL, {"invoice_number": "INV-2041", "total": 1250.5, "currency": "EUR"}
    )

    output = await llm.run(
        "extract", text=INVOICE_EMAIL, json_schema=INVOICE_SCHEMA, instructions="Amounts are decimals."
    )

    assert isinstance(output, ExtractOutput)
    assert output.data == {"invoice_number": "INV-2041", "total": 1250.5, "currency": "EUR"}
    assert output.usage.output_tokens > 0
    assert output.usage.credits == 1
    sent = llm.sent()
    assert sent.user == INVOICE_EMAIL
    assert "Amounts are decimals." in sent.system
    assert sent.tools == [EXTRACTION_TOOL]
    assert sent.forced_tool == EXTRACTION_TOOL


async def test_extract_accepts_json_text_from_a_model_that_ignores_tools(llm: LLMService) -> None:
    llm.fake.reply_json({"invoice_number": "INV-7", "total": 3})

    output = await llm.run("extract", text="Invoice INV-7, total 3", json_schema=INVOICE_SCHEMA)

    assert isinstance(output, ExtractOutput)
    assert output.data == {"invoice_number": "INV-7", "total": 3}


async def test_extract_refuses_data_that_breaks_the_schema_naming_what_failed(llm: LLMService) -> None:
    llm.fake.reply_tool_call(EXTRACTION_TOOL, {"total": "a lot", "currency": "GBP"})

    with pytest.raises(PermanentError) as raised:
        await llm.run("extract", text=INVOICE_EMAIL, json_schema=INVOICE_SCHEMA)

    message = raised.value.message
    assert "does not match json_schema" in message
    assert "'invoice_number' is a required property" in message
    assert "$.total: 'a lot' is not of type 'number'" in message
    assert "$.currency" in message


async def test_extract_refuses_an_answer_with_no_data(llm: LLMService) -> None:
    llm.fake.reply_text("I could not find an invoice.")

    with pytest.raises(PermanentError, match="no structured data"):
        await llm.run("extract", text=INVOICE_EMAIL, json_schema=INVOICE_SCHEMA)


async def test_classify_returns_one_of_the_labels(llm: LLMService) -> None:
    llm.fake.reply_text("Urgent.")

    output = await llm.run(
        "classify",
        text="The server room is flooding, come now!",
        labels=["urgent", "normal", "spam"],
        instructions="Anything about outages is urgent.",
    )

    assert isinstance(output, ClassifyOutput)
    assert output.label == "urgent"
    assert output.usage.input_tokens > 0
    sent = llm.sent()
    assert sent.user == "The server room is flooding, come now!"
    assert all(label in sent.system for label in ("urgent", "normal", "spam"))
    assert "Anything about outages is urgent." in sent.system
    assert sent.temperature == 0


async def test_classify_refuses_an_answer_that_is_not_a_label(llm: LLMService) -> None:
    llm.fake.reply_text("It could be either.")

    with pytest.raises(PermanentError, match="not one of the labels"):
        await llm.run("classify", text="Hello", labels=["urgent", "normal"])


async def test_summarize_asks_for_the_length_and_style_and_returns_the_summary(llm: LLMService) -> None:
    llm.fake.reply_text("- Invoice INV-2041\n- 1,250.50 EUR due 30 June")

    output = await llm.run("summarize", text=INVOICE_EMAIL, max_words=20, style="bullet points")

    assert isinstance(output, SummarizeOutput)
    assert output.text == "- Invoice INV-2041\n- 1,250.50 EUR due 30 June"
    assert output.usage.total_tokens == output.usage.input_tokens + output.usage.output_tokens
    sent = llm.sent()
    assert sent.user == INVOICE_EMAIL
    assert "at most 20 words" in sent.system
    assert "bullet points" in sent.system
    assert sent.max_tokens == 20 * 4 + 64


async def test_an_unscripted_fake_answers_from_the_request(llm: LLMService) -> None:
    output = await llm.run("extract", text=INVOICE_EMAIL, json_schema=INVOICE_SCHEMA)

    assert isinstance(output, ExtractOutput)
    assert output.data == {"invoice_number": "example", "total": 1, "currency": "EUR"}
