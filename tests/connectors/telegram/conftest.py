from __future__ import annotations

import httpx
import pytest

from autofy.connectors.sdk import ConnectorContext
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
def telegram_ctx(fake_telegram: FakeTelegram, service_http: httpx.AsyncClient) -> ConnectorContext:
    return ConnectorContext(
        service_name="telegram",
        credentials={"bot_token": fake_telegram.token},
        configuration={"api_base": fake_telegram.url},
        http=service_http,
    )
