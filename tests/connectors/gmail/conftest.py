from __future__ import annotations

import httpx
import pytest

from autofy.connectors.sdk import ConnectorContext
from tests.fakes.gmail import FakeGmail
from tests.fakes.service_fixtures import CredentialsRecorder


@pytest.fixture
def gmail_ctx(
    fake_gmail: FakeGmail, service_http: httpx.AsyncClient, saved_credentials: CredentialsRecorder
) -> ConnectorContext:
    return ConnectorContext(
        service_name="gmail",
        credentials=fake_gmail.grant(),
        configuration={"api_base": fake_gmail.url, "token_url": f"{fake_gmail.url}/token"},
        http=service_http,
        save_credentials=saved_credentials,
    )
