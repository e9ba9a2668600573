"""The attack of issue 13, through the API of a server that keeps the private network closed: a
Gmail integration whose `token_url` points at this machine. Neither the connection test nor the
OAuth callback sends the client secret or refresh token there, and the answer says why."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from autofy.config import Settings
from tests.api_fixtures import api_settings_for, sign_up
from tests.fakes.http_echo import ConnectionCounter
from tests.workflows.api import connect

GRANT = {"client_id": "cid", "client_secret": "csecret", "refresh_token": "1//refresh-token"}


@pytest.fixture
def api_settings(database_url: str) -> Settings:
    return api_settings_for(database_url, outbound_allow_private_network=False)


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    with ConnectionCounter("::").running() as counter:
        yield counter


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "2130706433", "localhost", "[::ffff:127.0.0.1]"])
async def test_a_token_url_on_this_machine_is_refused_by_the_connection_test(
    client: httpx.AsyncClient, listener: ConnectionCounter, host: str
) -> None:
    user = await sign_up(client)
    integration = await connect(
        client, user, "gmail", GRANT, {"token_url": f"http://{host}:{listener.port}/token"}
    )

    response = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)

    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["ok"], result["status"]) == (False, "error")
    assert "refusing to connect" in result["message"]
    assert listener.connections() == 0


async def test_a_token_url_on_this_machine_is_refused_by_the_oauth_callback(
    client: httpx.AsyncClient, listener: ConnectionCounter
) -> None:
    user = await sign_up(client)
    await connect(
        client,
        user,
        "gmail",
        {"client_id": "cid", "client_secret": "csecret"},
        {"token_url": f"http://127.0.0.1:{listener.port}/token"},
    )
    authorize = await client.get("/api/v1/integrations/gmail/oauth/authorize", headers=user.headers)
    state = parse_qs(urlsplit(authorize.json()["authorization_url"]).query)["state"][0]

    callback = await client.get(
        "/api/v1/integrations/gmail/oauth/callback", params={"code": "4/code", "state": state}
    )

    assert "refusing to connect" in callback.text
    assert listener.connections() == 0
