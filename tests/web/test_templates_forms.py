"""The template gallery and wizard in-process: search, categories, the inputs form, the services
a template needs, and the new workflow opened in the builder."""

from __future__ import annotations

import re

import httpx

from tests.fakes.telegram import FakeTelegram
from tests.web.pages import web_user
from tests.workflows.api import connect

WEBHOOK_ALERTS = "20000000-0000-4000-8000-000000000004"
EMAIL_TO_NOTION = "20000000-0000-4000-8000-000000000001"


def _titles(page: str) -> list[str]:
    return re.findall(r'<h2><a href="/templates/[^"]+">([^<]+)</a></h2>', page)


async def test_the_gallery_searches_and_filters_by_category(client: httpx.AsyncClient) -> None:
    user = await web_user(client)

    everything = (await user.get("/templates")).text
    assert len(_titles(everything)) == 6
    assert re.findall(r'href="/templates\?category=([a-z]+)"', everything) == [
        "ai",
        "notifications",
        "productivity",
        "reporting",
        "support",
    ]
    productivity = (await user.get("/templates?category=productivity")).text
    assert _titles(productivity) == ["Save new emails to Notion", "Extract notes into Notion"]
    assert 'href="/templates?category=productivity" aria-current="page"' in productivity
    assert _titles((await user.get("/templates?search=WEBHOOK")).text) == ["Webhook alerts to Telegram"]
    assert _titles((await user.get("/templates?search=notion&category=ai")).text) == []
    none = (await user.get("/templates?search=fax")).text
    assert "No template matches" in none


async def test_the_wizard_asks_for_the_inputs_and_shows_what_to_connect(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await web_user(client)
    await connect(
        client, user.api, "telegram", {"bot_token": fake_telegram.token}, {"api_base": fake_telegram.url}
    )

    wizard = (await user.get(f"/templates/{EMAIL_TO_NOTION}")).text

    assert 'value="Save new emails to Notion"' in wizard
    assert '<label for="field-inputs.notion_database_id">Notion database <span class="required"' in wizard
    assert "The database the pages are created in" in wizard
    assert 'href="/integrations#service-gmail">Connect Gmail</a>' in wizard
    assert 'href="/integrations#service-notion">Connect Notion</a>' in wizard
    assert "Gmail: New email" in wizard
    telegram = (await user.get(f"/templates/{WEBHOOK_ALERTS}")).text
    assert "Connect Telegram" not in telegram
    assert '<span class="badge badge-active">connected</span>' in telegram
    assert "switched on once every service" not in telegram


async def test_a_missing_input_is_shown_on_its_field_then_the_workflow_opens_in_the_builder(
    client: httpx.AsyncClient,
) -> None:
    user = await web_user(client)

    missing = await user.post(
        f"/templates/{WEBHOOK_ALERTS}", {"workflow_name": "Pager", "inputs.telegram_chat_id": ""}
    )

    assert missing.status_code == 422
    assert 'id="error-inputs.telegram_chat_id">required: Telegram chat</p>' in missing.text
    assert 'value="Pager"' in missing.text

    created = await user.post(
        f"/templates/{WEBHOOK_ALERTS}", {"workflow_name": "Pager", "inputs.telegram_chat_id": "4242"}
    )

    assert created.status_code == 303
    workflow_id = created.headers["location"].removeprefix("/workflows/")
    workflow = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=user.api.headers)).json()
    assert workflow["name"] == "Pager"
    assert workflow["status"] == "draft"
    assert workflow["steps"][0]["configuration"]["chat_id"] == "4242"


async def test_an_unknown_template_is_not_found(client: httpx.AsyncClient) -> None:
    user = await web_user(client)

    assert (await user.get("/templates/20000000-0000-4000-8000-000000000099")).status_code == 404
    assert (await user.post("/templates/20000000-0000-4000-8000-000000000099", {})).status_code == 404
