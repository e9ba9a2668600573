"""The workflows list in-process: search, tags, status, pages, and the active switch's refusals."""

from __future__ import annotations

import re

import httpx

from tests.fakes.telegram import FakeTelegram
from tests.web.pages import WebUser, web_user
from tests.workflows.api import connect, create_workflow, telegram_step


def _names(page: str) -> list[str]:
    return re.findall(r'<tr id="workflow-[^"]+">\s*<td>\s*<a href="/workflows/[^"]+">([^<]+)</a>', page)


async def _workflow(user: WebUser, client: httpx.AsyncClient, name: str, **fields: object) -> str:
    created = await create_workflow(client, user.api, name=name, **fields)
    return str(created["id"])


async def test_search_covers_name_and_description_and_tags_and_status_filter(
    client: httpx.AsyncClient,
) -> None:
    user = await web_user(client)
    await _workflow(user, client, "Invoices to Notion", tags=["finance"], description="Every invoice email")
    await _workflow(user, client, "Standup reminder", tags=["team"], description="Posts the invoice link too")
    await _workflow(user, client, "Weekly digest", tags=["team", "report"])

    assert _names((await user.get("/workflows?search=INVOICE")).text) == [
        "Standup reminder",
        "Invoices to Notion",
    ]
    tagged = (await user.get("/workflows?tag=team")).text
    assert _names(tagged) == ["Weekly digest", "Standup reminder"]
    assert '<option value="team" selected>team</option>' in tagged
    assert re.findall(r'<option value="([a-z]+)"(?: selected)?>\1</option>', tagged) == [
        "finance",
        "report",
        "team",
    ]
    assert _names((await user.get("/workflows?status=active")).text) == []
    nothing = (await user.get("/workflows?search=zzz")).text
    assert "No workflow matches" in nothing
    assert 'href="/workflows">Clear the filters</a>' in nothing
    assert (await user.get("/workflows?status=sleeping")).status_code == 400


async def test_an_empty_account_is_told_how_to_start(client: httpx.AsyncClient) -> None:
    user = await web_user(client)

    page = (await user.get("/workflows")).text

    assert "No workflows yet" in page
    assert 'href="/templates">Browse templates</a>' in page
    assert 'href="/workflows/new">New workflow</a>' in page
    assert "list-filters" not in page  # nothing to filter yet


async def test_many_workflows_are_paged_and_filters_survive_the_pages(client: httpx.AsyncClient) -> None:
    user = await web_user(client)
    for number in range(23):
        await _workflow(user, client, f"Flow {number:02d}", tags=["bulk"])

    first = (await user.get("/workflows?tag=bulk")).text
    second = (await user.get("/workflows?tag=bulk&page=2")).text

    assert len(_names(first)) == 20
    assert "Page 1 of 2" in first
    assert 'href="/workflows?tag=bulk&amp;page=2" rel="next"' in first
    assert _names(second) == ["Flow 02", "Flow 01", "Flow 00"]
    assert 'href="/workflows?tag=bulk&amp;page=1" rel="prev"' in second
    past = await user.get("/workflows?tag=bulk&page=9")
    assert past.headers["location"] == "/workflows?tag=bulk&page=2"


async def test_the_switch_activates_pauses_and_shows_why_activation_is_refused(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    user = await web_user(client)
    alerts = await _workflow(user, client, "Alerts", steps=[telegram_step(chat_id="")])

    refused = await user.post(f"/workflows/{alerts}/active", {"active": "on"}, htmx=True)

    assert refused.status_code == 200
    row = refused.text
    assert row.lstrip().startswith(f'<tr id="workflow-{alerts}">')
    assert "Not activated" in row
    assert "Connect telegram first." in row  # the API's own hint (POST /api/v1/…) left out
    assert "/api/v1" not in row
    assert 'href="/integrations#service-telegram">Connect telegram</a>' in row
    assert "Step 1: chat id" in row
    assert f'href="/workflows/{alerts}#step-1">Fix it in the builder</a>' in row
    assert "badge-draft" in row
    assert " checked" not in row

    await connect(
        client, user.api, "telegram", {"bot_token": fake_telegram.token}, {"api_base": fake_telegram.url}
    )
    await client.patch(
        f"/api/v1/workflows/{alerts}/steps/{(await client.get(f'/api/v1/workflows/{alerts}', headers=user.api.headers)).json()['steps'][0]['id']}",
        json={"configuration": {"chat_id": "42", "text": "hi"}},
        headers=user.api.headers,
    )
    activated = await user.post(f"/workflows/{alerts}/active", {"active": "on"}, htmx=True)
    assert "badge-active" in activated.text
    assert " checked" in activated.text
    assert "row-problems" not in activated.text

    paused = await user.post(f"/workflows/{alerts}/active", htmx=True)
    assert "badge-paused" in paused.text
    state = await client.get(f"/api/v1/workflows/{alerts}", headers=user.api.headers)
    assert state.json()["status"] == "paused"

    # Without script: back to the list, or the row on its own with the refusal.
    assert (await user.post(f"/workflows/{alerts}/active", {"active": "on"})).headers[
        "location"
    ] == "/workflows"
    other = await _workflow(user, client, "Broken", steps=[telegram_step(chat_id="")])
    page = await user.post(f"/workflows/{other}/active", {"active": "on"})
    assert page.status_code == 422
    assert "Not activated" in page.text
    assert _names(page.text) == ["Broken"]


async def test_another_users_workflow_cannot_be_switched(client: httpx.AsyncClient) -> None:
    owner = await web_user(client)
    workflow_id = await _workflow(owner, client, "Mine")
    intruder = await web_user(client)

    response = await intruder.post(f"/workflows/{workflow_id}/active", {"active": "on"}, htmx=True)

    assert response.status_code == 404
    state = await client.get(f"/api/v1/workflows/{workflow_id}", headers=owner.api.headers)
    assert state.json()["status"] == "draft"
