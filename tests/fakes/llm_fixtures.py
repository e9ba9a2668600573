"""Pytest fixtures for the fake LLM servers (register with `pytest_plugins`).

Each fixture starts its fake for one test and stops it after, so scripted replies, failure
switches and recorded requests never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI().running() as server:
        assert isinstance(server, FakeOpenAI)
        yield server


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic().running() as server:
        assert isinstance(server, FakeAnthropic)
        yield server


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini().running() as server:
        assert isinstance(server, FakeGemini)
        yield server
