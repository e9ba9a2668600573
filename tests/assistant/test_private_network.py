"""An LLM integration whose api_base points into the private network, on a server that does not
allow it: refused before any model call, as a clear answer."""

from __future__ import annotations

import httpx
import pytest

from autofy.config import Settings
from tests.api_fixtures import api_settings_for, sign_up
from tests.chat.api import connect_openai, say, start_session
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(database_url, outbound_allow_private_network=False)


async def test_a_loopback_api_base_is_refused_without_calling_it(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    user = await sign_up(client)
    await connect_openai(client, user, fake_openai)
    chat = await start_session(client, user)

    turn = await say(client, user, chat["id"], "Hello")

    assert turn["error"]["code"] == "provider_failed"
    assert "loopback address" in turn["assistant_message"]["content"]
    assert fake_openai.requests == []
