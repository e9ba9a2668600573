"""The integrations page in-process: forms generated from the catalog, connect, test, reconnect,
remove, and Gmail's OAuth round trip landing back on the page (fake Telegram and Gmail over HTTP)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx

from autofy.connectors.catalog import catalog
from tests.fakes.gmail import FakeGmail
from tests.fakes.telegram import FakeTelegram
from tests.web.pages import WebUser, web_user
from tests.workflows.api import connect, create_workflow, telegram_step


def _card(page: str, integration_id: str) -> str:
    """The HTML of one integration's card on the page."""
    start = page.index(f'id="integration-{integration_id}"')
    return page[start : page.index("</li>", start)]


async def _connect_telegram(user: WebUser, fake_telegram: FakeTelegram, token: str | None = None) -> str:
    response = await user.post(
        "/integrations",
        {
            "service_name": "telegram",
            "credentials.bot_token": token or fake_telegram.token,
            "configuration.api_base": fake_telegram.url,
        },
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    match = re.fullmatch(r"/integrations\?connected=([0-9a-f-]+)#integration-\1", location)
    assert match is not None, location
    return match.group(1)


async def test_every_catalog_service_has_a_logo_and_a_form_of_its_credential_fields(
    client: httpx.AsyncClient,
) -> None:
    user = await web_user(client)

    page = (await user.get("/integrations")).text

    assert "No services connected" in page
    for connector in catalog().connectors:
        if not connector.requires_integration:
            assert f'id="service-{connector.service_name}"' not in page
            continue
        assert f'id="service-{connector.service_name}"' in page
        assert f"/static/icons/services/{connector.service_name}.svg?v=" in page
        for credential in connector.auth.fields:
            if connector.auth.kind == "oauth2" and not credential.required:
                # Tokens come from Google's consent screen, not from typing.
                assert f'id="connect-gmail-credentials-{credential.name}"' not in page
                continue
            field = re.search(
                rf'<input id="connect-{connector.service_name}-credentials-{credential.name}"[^>]*>', page
            )
            assert field is not None, (connector.service_name, credential.name)
            assert f'type="{"password" if credential.secret else "text"}"' in field.group(0)
            assert "value=" not in field.group(0)
    assert "Save, then connect with Google" in page


async def test_connect_test_and_see_the_account_then_a_refused_token_says_to_reconnect(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await web_user(client)
    integration_id = await _connect_telegram(user, fake_telegram)

    landed = (await user.get(f"/integrations?connected={integration_id}")).text
    assert "Telegram is connected. Test the connection" in landed
    assert fake_telegram.token not in landed  # a secret is never shown again
    assert 'name="service_name" value="telegram"' not in landed  # one per account: no second form

    tested = await user.post(f"/integrations/{integration_id}/test", htmx=True)
    assert tested.status_code == 200
    assert tested.text.lstrip().startswith(f'<li class="card connection" id="integration-{integration_id}"')
    assert "Connection works." in tested.text
    assert "@autofy_test_bot" in tested.text
    assert "badge-active" in tested.text

    reconnected = await user.post(
        f"/integrations/{integration_id}/reconnect",
        {"credentials.bot_token": "7012345678:wrong", "configuration.api_base": fake_telegram.url},
    )
    assert (
        reconnected.headers["location"]
        == f"/integrations?updated={integration_id}#integration-{integration_id}"
    )
    refused = await user.post(f"/integrations/{integration_id}/test", htmx=True)
    assert "Telegram refused the credentials." in refused.text
    assert "Reconnect with new credentials" in refused.text
    assert "badge-error" in refused.text


async def test_an_unreachable_service_is_told_apart_from_refused_credentials(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await web_user(client)
    integration_id = await _connect_telegram(user, fake_telegram)
    fake_telegram.fail(502, "Bad Gateway")

    # Without htmx (no script): the whole page comes back with the answer on the card.
    page = await user.post(f"/integrations/{integration_id}/test")

    card = _card(page.text, integration_id)
    assert "Could not reach the service." in card
    assert "The credentials were not checked and the status did not change." in card
    assert "badge-active" in card


async def test_bad_input_is_shown_on_its_field_and_secrets_are_not_sent_back(
    client: httpx.AsyncClient,
) -> None:
    user = await web_user(client)

    missing = await user.post("/integrations", {"service_name": "telegram", "credentials.bot_token": " "})
    assert missing.status_code == 422
    assert 'id="connect-telegram-credentials-bot_token-error">required: Bot token</p>' in missing.text
    assert re.search(r'<details class="connect" open>\s*<summary[^>]*>Connect Telegram', missing.text)

    bad_url = await user.post(
        "/integrations",
        {
            "service_name": "openai",
            "credentials.api_key": "sk-secret-value",
            "configuration.api_base": "ftp://example.com",
            "display_name": "My models",
        },
    )
    assert bad_url.status_code == 422
    assert "must be an http:// or https:// URL with a host" in bad_url.text
    assert "sk-secret-value" not in bad_url.text
    assert 'value="My models"' in bad_url.text
    assert 'value="ftp://example.com"' in bad_url.text

    unknown = await user.post("/integrations", {"service_name": "myspace"})
    assert unknown.status_code == 422


async def test_remove_names_the_workflows_that_use_the_integration_first(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await web_user(client)
    integration_id = await _connect_telegram(user, fake_telegram)
    await create_workflow(client, user.api, name="Alerts <b>now</b>", steps=[telegram_step()])
    await create_workflow(client, user.api, name="Unrelated")

    confirm = await user.get(f"/integrations/{integration_id}/remove")

    assert confirm.status_code == 200
    assert "1 workflow uses this connection" in confirm.text
    assert html.escape("Alerts <b>now</b>", quote=False) in confirm.text
    assert "Unrelated" not in confirm.text
    api_uses = await client.get(f"/api/v1/integrations/{integration_id}/workflows", headers=user.api.headers)
    assert [use["name"] for use in api_uses.json()] == ["Alerts <b>now</b>"]

    removed = await user.post(f"/integrations/{integration_id}/remove")

    assert removed.headers["location"] == "/integrations?removed=telegram"
    page = (await user.get(removed.headers["location"])).text
    assert "The Telegram integration was removed." in page
    assert "No services connected" in page
    assert (await user.get(f"/integrations/{integration_id}/remove")).status_code == 404


async def test_connect_with_google_comes_back_to_the_integrations_page(
    client: httpx.AsyncClient, fake_gmail: FakeGmail
) -> None:
    user = await web_user(client)

    started = await user.post(
        "/integrations",
        {
            "service_name": "gmail",
            "credentials.client_id": fake_gmail.state.client_id,
            "credentials.client_secret": fake_gmail.state.client_secret,
            "configuration.api_base": fake_gmail.url,
            "configuration.authorize_url": f"{fake_gmail.url}/o/oauth2/v2/auth",
            "configuration.token_url": f"{fake_gmail.url}/token",
        },
    )

    assert started.status_code == 303
    integration_id = (await client.get("/api/v1/integrations", headers=user.api.headers)).json()[0]["id"]
    assert (
        started.headers["location"]
        == f"/integrations?connected={integration_id}#integration-{integration_id}"
    )
    saved = (await user.get(started.headers["location"])).text
    assert "the OAuth client is saved. Now choose Connect with Google." in saved
    assert 'href="/integrations/gmail/authorize">Connect with Google</a>' in saved
    to_google = await user.get("/integrations/gmail/authorize")
    assert to_google.status_code == 303
    consent = urlsplit(to_google.headers["location"])
    assert f"{consent.scheme}://{consent.netloc}{consent.path}" == f"{fake_gmail.url}/o/oauth2/v2/auth"
    query = {key: values[0] for key, values in parse_qs(consent.query).items()}
    code = fake_gmail.issue_code(query["redirect_uri"])
    browser = {"Accept": "text/html,application/xhtml+xml"}

    # Google sends the browser back to the API's callback, which hands it on to the page.
    callback = urlsplit(query["redirect_uri"]).path
    back = await client.get(callback, params={"code": code, "state": query["state"]}, headers=browser)

    assert back.status_code == 303
    assert back.headers["location"] == f"/integrations?gmail=connected#integration-{integration_id}"
    page = (await user.get(back.headers["location"])).text
    assert "Gmail is connected" in page
    assert "badge-active" in _card(page, integration_id)

    denied = await client.get(
        callback, params={"error": "access_denied", "state": query["state"]}, headers=browser
    )
    assert denied.headers["location"] == f"/integrations?gmail=denied#integration-{integration_id}"
    refused = await client.get(
        callback, params={"code": "4/not-issued", "state": query["state"]}, headers=browser
    )
    assert refused.headers["location"] == f"/integrations?gmail=failed#integration-{integration_id}"
    failed_page = (await user.get(refused.headers["location"])).text
    assert "Google refused to connect Gmail" in failed_page
    assert "invalid_grant" in _card(failed_page, integration_id)
    forged = await client.get(callback, params={"code": "x", "state": "garbage"}, headers=browser)
    assert forged.headers["location"] == "/integrations?gmail=invalid"
    # A program (no text/html) still gets the API's JSON answer.
    assert (await client.get(callback, params={"code": "x", "state": "garbage"})).status_code == 400


async def test_another_users_integration_is_not_found(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    owner = await web_user(client)
    integration_id = await _connect_telegram(owner, fake_telegram)
    intruder = await web_user(client)
    await connect(client, intruder.api, "notion", {"token": "secret_x"})

    for path in (f"/integrations/{integration_id}/remove",):
        assert (await intruder.get(path)).status_code == 404
    assert (await intruder.post(f"/integrations/{integration_id}/test")).status_code == 404
    assert (await intruder.post(f"/integrations/{integration_id}/remove")).status_code == 404
