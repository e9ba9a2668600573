from __future__ import annotations

import httpx
import pytest

from autofy.connectors.sdk import ConnectorContext
from tests.fakes.notion import FakeNotion


@pytest.fixture
def notion_ctx(fake_notion: FakeNotion, service_http: httpx.AsyncClient) -> ConnectorContext:
    return ConnectorContext(
        service_name="notion",
        credentials={"token": fake_notion.token},
        configuration={"api_base": fake_notion.url},
        http=service_http,
    )
