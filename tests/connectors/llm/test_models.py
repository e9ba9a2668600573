"""Model lists and the connection test: the provider's own list, the account where the provider
names it, and the same error reporting as the actions."""

from __future__ import annotations

import pytest

from autofy.connectors.llm.models import list_models
from autofy.connectors.sdk import AuthenticationError, TransientError
from tests.connectors.llm.conftest import LLMService
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini

WRONG_KEY = "sk-wrong-key-0123456789abcdef"


async def test_list_models_returns_the_providers_chat_models(llm: LLMService) -> None:
    found = await list_models(llm.context())

    if isinstance(llm.fake, FakeGemini):
        # Only models that can chat; the embedding model is left out, the "models/" prefix dropped.
        assert found.models == ["gemini-1.5-pro", "gemini-2.0-flash"]
        request = llm.fake.requests_to("/models")[-1]
        assert request.path == "/v1beta/models"
        assert request.headers["x-goog-api-key"] == llm.fake.api_key
    elif isinstance(llm.fake, FakeAnthropic):
        assert found.models == sorted(llm.fake.models)
        request = llm.fake.requests_to("/v1/models")[-1]
        assert request.headers["x-api-key"] == llm.fake.api_key
        assert request.headers["anthropic-version"] == "2023-06-01"
    else:
        assert found.models == sorted(llm.fake.models)
        request = llm.fake.requests_to("/v1/models")[-1]
        assert request.headers["authorization"] == f"Bearer {llm.fake.api_key}"


async def test_the_connection_test_names_the_account_where_the_provider_does(llm: LLMService) -> None:
    result = await llm.connector.test(llm.context())

    assert result.ok
    assert "models available" in result.message
    if isinstance(llm.fake, FakeGemini):
        assert result.account is None  # Gemini's API does not say whose key it is
    elif isinstance(llm.fake, FakeAnthropic):
        assert result.account == llm.fake.organization_id
    else:
        assert result.account == llm.fake.organization


async def test_the_connection_test_reports_a_refused_key(llm: LLMService) -> None:
    with pytest.raises(AuthenticationError) as raised:
        await llm.connector.test(llm.context(api_key=WRONG_KEY))

    assert WRONG_KEY not in raised.value.message


async def test_a_missing_key_is_an_authentication_error_without_a_call(llm: LLMService) -> None:
    with pytest.raises(AuthenticationError, match="no API key"):
        await llm.connector.test(llm.context(api_key=""))

    assert llm.fake.requests == []


async def test_the_model_list_honours_retry_after(llm: LLMService) -> None:
    llm.fake.fail(429, "Too many requests", retry_after=12)

    with pytest.raises(TransientError) as raised:
        await list_models(llm.context())

    assert raised.value.retry_after == 12
    assert "Too many requests" in raised.value.message


async def test_the_model_list_reports_server_errors_and_malformed_bodies_as_retryable(
    llm: LLMService,
) -> None:
    llm.fake.fail(500, "internal error")
    with pytest.raises(TransientError, match="internal error"):
        await list_models(llm.context())

    llm.fake.malformed()
    with pytest.raises(TransientError, match="malformed"):
        await list_models(llm.context())
