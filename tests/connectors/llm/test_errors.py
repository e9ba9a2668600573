"""Every LLM action on every provider reports failures the way the engine needs: credentials
refused as authentication errors, 429 and 5xx as retryable (Retry-After honoured), other 4xx as
permanent in the provider's words, a malformed body or a timeout as retryable; the client never
retries on its own, and the API key never shows."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from autofy.connectors.sdk import AuthenticationError, PermanentError, TransientError
from tests.connectors.llm.conftest import LLMService

ACTION_INPUTS: dict[str, dict[str, Any]] = {
    "prompt": {"prompt": "Say hello."},
    "extract": {
        "text": "Order 17 ships Monday.",
        "json_schema": {"type": "object", "properties": {"order": {"type": "integer"}}},
    },
    "classify": {"text": "Win a free cruise!", "labels": ["spam", "not spam"]},
    "summarize": {"text": "A long day at the office, then dinner with friends.", "max_words": 10},
}
ACTIONS = list(ACTION_INPUTS)
CANARY_KEY = "sk-canary-7f3e9a1c4b2d8e6f0a5c3b1d"


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_refused_key_is_an_authentication_error_without_the_key(llm: LLMService, action: str) -> None:
    with pytest.raises(AuthenticationError) as raised:
        await llm.run(action, llm.context(api_key=CANARY_KEY), **ACTION_INPUTS[action])

    assert raised.value.status_code in (400, 401)  # Gemini says 400 API_KEY_INVALID
    assert "key" in raised.value.message.lower()
    assert CANARY_KEY not in raised.value.message
    assert CANARY_KEY not in str(raised.value)
    assert raised.value.__cause__ is None  # no chained SDK error carrying the request


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_rate_limit_is_retryable_after_the_providers_delay(llm: LLMService, action: str) -> None:
    llm.fake.fail(429, "Rate limit reached for requests", retry_after=7)

    with pytest.raises(TransientError) as raised:
        await llm.run(action, **ACTION_INPUTS[action])

    assert raised.value.retryable
    assert raised.value.status_code == 429
    assert raised.value.retry_after == 7
    assert "Rate limit reached for requests" in raised.value.message
    assert len(llm.chat_requests()) == 1  # the engine retries, not the client


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_server_error_is_retryable(llm: LLMService, action: str) -> None:
    llm.fake.fail(503, "The server is overloaded")

    with pytest.raises(TransientError) as raised:
        await llm.run(action, **ACTION_INPUTS[action])

    assert raised.value.status_code == 503
    assert "The server is overloaded" in raised.value.message
    assert len(llm.chat_requests()) == 1


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_rejected_request_is_permanent_with_the_providers_message(
    llm: LLMService, action: str
) -> None:
    llm.fake.fail(404, "The model `gpt-9` does not exist")

    with pytest.raises(PermanentError) as raised:
        await llm.run(action, **ACTION_INPUTS[action])

    assert not raised.value.retryable
    assert not isinstance(raised.value, AuthenticationError)
    assert raised.value.status_code == 404
    assert "The model `gpt-9` does not exist" in raised.value.message


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_malformed_answer_is_retryable(llm: LLMService, action: str) -> None:
    llm.fake.malformed()

    with pytest.raises(TransientError, match="malformed"):
        await llm.run(action, **ACTION_INPUTS[action])


@pytest.mark.parametrize("action", ACTIONS)
async def test_a_provider_too_slow_to_answer_times_out_as_retryable(llm: LLMService, action: str) -> None:
    llm.fake.slow(1.5)
    started = time.monotonic()

    with pytest.raises(TransientError, match="did not answer in time"):
        await llm.run(action, llm.context(timeout_seconds=0.3), **ACTION_INPUTS[action])

    assert time.monotonic() - started < 1.4
    assert len(llm.chat_requests()) == 1


async def test_an_unreachable_provider_is_retryable(llm: LLMService) -> None:
    closed_port = "http://127.0.0.1:9"  # the discard port: nothing listens there

    with pytest.raises(TransientError, match="could not reach"):
        await llm.run("prompt", llm.context(api_base=closed_port), prompt="Hello")


@pytest.mark.parametrize("action", ACTIONS)
async def test_the_api_key_is_never_in_what_is_sent_as_prompt_or_returned(
    llm: LLMService, action: str
) -> None:
    llm.fake.api_key = CANARY_KEY
    if action == "classify":
        llm.fake.reply_text("spam")
    # Unscripted, the fake echoes the prompt back: a key in the prompt would come back out.
    output = await llm.run(action, llm.context(api_key=CANARY_KEY), **ACTION_INPUTS[action])

    assert CANARY_KEY not in json.dumps(output.model_dump(mode="json"))
    bodies = llm.chat_requests()
    assert bodies
    assert all(CANARY_KEY.encode() not in body for body in bodies)
