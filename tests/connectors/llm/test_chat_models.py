"""The chat-model factory and credit pricing the actions and the assistant share."""

from __future__ import annotations

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI

from autofy.connectors.llm.chat_models import chat_model, opened_chat_model
from autofy.connectors.llm.usage import credits_for_usage
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.sdk import AuthenticationError
from tests.connectors.llm.conftest import FAKE_SERVER_POLICY, LLMService
from tests.fakes.openai import FakeOpenAI


@pytest.mark.parametrize(
    ("service_name", "model_class"),
    [
        ("openai", ChatOpenAI),
        ("openrouter", ChatOpenAI),
        ("anthropic", ChatAnthropic),
        ("gemini", ChatGoogleGenerativeAI),
    ],
)
def test_each_service_gets_its_langchain_chat_model(service_name: str, model_class: type) -> None:
    model = chat_model(service_name, {"api_key": "k-123456789"}, {}, policy=OutboundPolicy())

    assert isinstance(model, model_class)


def test_openrouter_defaults_to_openrouters_endpoint() -> None:
    model = chat_model("openrouter", {"api_key": "sk-or-123456789"}, {}, policy=OutboundPolicy())

    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "https://openrouter.ai/api/v1"
    assert model.model_name == "openai/gpt-4o-mini"


async def test_openrouter_requests_carry_its_attribution_headers(fake_openai: FakeOpenAI) -> None:
    configuration = {"api_base": fake_openai.api_base, "site_url": "https://example.org"}
    async with opened_chat_model(
        "openrouter", {"api_key": fake_openai.api_key}, configuration, policy=FAKE_SERVER_POLICY
    ) as model:
        await model.ainvoke("Hello")

    headers = fake_openai.requests_to("/chat/completions")[-1].headers
    assert headers["x-title"] == "Autofy"
    assert headers["http-referer"] == "https://example.org"


async def test_an_openai_organization_is_sent_when_configured(fake_openai: FakeOpenAI) -> None:
    configuration = {"api_base": fake_openai.api_base, "organization": "org-42"}
    async with opened_chat_model(
        "openai", {"api_key": fake_openai.api_key}, configuration, policy=FAKE_SERVER_POLICY
    ) as model:
        await model.ainvoke("Hello")

    assert fake_openai.requests_to("/chat/completions")[-1].headers["openai-organization"] == "org-42"


def test_a_missing_key_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="no API key"):
        chat_model("anthropic", {}, {}, policy=OutboundPolicy())


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="not an LLM service"):
        chat_model("gmail", {"api_key": "k"}, {}, policy=OutboundPolicy())


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens", "credits"),
    [(0, 0, 0), (1, 0, 1), (600, 400, 1), (600, 401, 2), (10_000, 2_500, 13)],
)
def test_credits_are_one_per_started_thousand_tokens(
    input_tokens: int, output_tokens: int, credits: int
) -> None:
    assert credits_for_usage(input_tokens, output_tokens) == credits


def test_each_providers_actions_default_to_its_model(llm: LLMService) -> None:
    for action in llm.connector.actions:
        schema = action.input_model.model_json_schema()
        assert schema["properties"]["model"]["default"] == llm.default_model
        assert schema["additionalProperties"] is False
