"""The workflow builder's form and fragments, in-process: what each endpoint answers for a form
(the browser journeys are in test_builder.py)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api_fixtures import BASE_URL, DEFAULT_PASSWORD


@dataclass
class Browser:
    """An httpx client signed in through the pages, sending the CSRF token like htmx does."""

    client: httpx.AsyncClient
    token: str
    api: dict[str, str]

    async def post(self, path: str, data: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"Origin": BASE_URL, "X-CSRF-Token": self.token}
        return await self.client.post(path, data=data, headers=headers, **kwargs)


@pytest.fixture
async def browser(client: httpx.AsyncClient) -> Browser:
    email = f"builder-{uuid.uuid4().hex[:8]}@example.com"
    page = await client.get("/signup")
    token = _csrf(page.text)
    response = await client.post(
        "/signup",
        data={"csrf_token": token, "email": email, "password": DEFAULT_PASSWORD, "full_name": "Ada"},
        headers={"Origin": BASE_URL},
    )
    assert response.status_code == 303, response.text
    signed_in = await client.post("/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD})
    api = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    return Browser(client, _csrf((await client.get("/workflows/new")).text), api)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _slot(html: str, slot_id: str) -> str:
    """The text of the problem slot `slot_id` in a check answer."""
    found = re.search(rf'<div class="builder-error" id="{re.escape(slot_id)}"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None, f"no slot {slot_id}"
    return re.sub(r"<[^>]+>", " ", found.group(1)).strip()


KEY_1, KEY_2 = "n000000000001", "n000000000002"


def _webhook_form(**overrides: str) -> dict[str, Any]:
    """A webhook → format text → Telegram workflow, as the builder's form posts it."""
    form: dict[str, Any] = {
        "name": "Alerts to Telegram",
        "trigger_kind": "webhook",
        "trigger.rendered": "webhook",
        "sample": json.dumps({"body": {"title": "Disk full"}, "headers": {}, "query": {}}),
        "step": [KEY_1, KEY_2],
        f"{KEY_1}.service_name": "core",
        f"{KEY_1}.action_name": "format_text",
        f"{KEY_1}.rendered": "core/format_text",
        f"{KEY_1}.configuration.operation": "upper",
        f"{KEY_1}.configuration.text": "{{ trigger.body.title }}",
        f"{KEY_1}.error_handling.retry": "true",
        f"{KEY_1}.error_handling.max_retries": "3",
        f"{KEY_1}.is_enabled": "true",
        f"{KEY_2}.service_name": "telegram",
        f"{KEY_2}.action_name": "send_message",
        f"{KEY_2}.rendered": "telegram/send_message",
        f"{KEY_2}.configuration.chat_id": "",
        f"{KEY_2}.configuration.text": "{{ steps.format_text.result }}",
        f"{KEY_2}.error_handling.retry": "true",
        f"{KEY_2}.error_handling.max_retries": "3",
        f"{KEY_2}.is_enabled": "true",
    }
    return form | overrides


async def test_the_check_shows_each_problem_of_the_api_validator_on_its_field(browser: Browser) -> None:
    form = _webhook_form(**{f"{KEY_1}.configuration.text": "{{ steps.send_message.message_id }}"})

    response = await browser.post("/workflows/builder/check", form)

    assert response.status_code == 200
    assert "required" in _slot(response.text, f"err-{KEY_2}-configuration-chat_id").lower()
    # A later step cannot be read: the problem is on the field that reads it.
    assert "send_message" in _slot(response.text, f"err-{KEY_1}-configuration-text")
    # Telegram is not connected: said on the service field.
    assert "Connect telegram" in _slot(response.text, f"err-{KEY_2}-service_name")
    assert _slot(response.text, f"err-{KEY_2}-configuration-text") == ""
    assert "3 problems to fix" in response.text


async def test_the_schedule_preview_lists_the_next_five_fire_times_or_says_what_is_wrong(
    browser: Browser,
) -> None:
    form = {
        "name": "Morning",
        "trigger_kind": "scheduled",
        "trigger_config.schedule": "cron",
        "trigger_config.cron": "0 9 * * 1-5",
        "trigger_config.timezone": "Europe/Paris",
    }

    preview = await browser.post("/workflows/builder/check", form)
    broken = await browser.post("/workflows/builder/check", form | {"trigger_config.cron": "0 9 * *"})

    times = re.findall(r"<li>([^<]+)</li>", preview.text)
    assert len(times) == 5
    assert all("09:00 CE" in moment for moment in times), times
    # The validator's problem shows under the schedule, whose preview is then empty.
    assert "is not a valid cron expression" in _slot(broken.text, "err-trigger_config")
    assert "<li>" not in broken.text


async def test_choosing_an_action_generates_its_form_from_the_input_schema(browser: Browser) -> None:
    form = {"step": [KEY_1], f"{KEY_1}.service_name": "core", f"{KEY_1}.action_name": "format_text"}

    card = (await browser.post(f"/workflows/builder/card?card={KEY_1}", form)).text

    # The enum as a select, the required mark, the default and the catalog's help text.
    assert f'<select id="f-{KEY_1}-configuration-operation"' in card
    assert '<option value="slugify"' in card
    assert re.search(rf'for="f-{KEY_1}-configuration-text">Text <span class="required"', card)
    assert f'name="{KEY_1}.configuration.suffix" type="text" value="…"' in card
    assert "The text to format." in card

    # An HTTP request names its credentials by picking one of the user's HTTP integrations.
    http = {"step": [KEY_1], f"{KEY_1}.service_name": "core", f"{KEY_1}.action_name": "http_request"}
    http_card = (await browser.post(f"/workflows/builder/card?card={KEY_1}", http)).text
    assert re.search(
        rf'<select id="f-{KEY_1}-configuration-integration_id"[^>]*>\s*<option value=""[^>]*>Choose an integration',
        http_card,
    )


async def test_saving_creates_then_replaces_the_workflow_keeping_step_ids(browser: Browser) -> None:
    form = _webhook_form(**{f"{KEY_2}.configuration.chat_id": "42", "intent": "save"})

    created = await browser.post("/workflows/new", form)

    assert created.status_code == 303, created.text
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]
    saved = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert [s["action_name"] for s in saved["steps"]] == ["format_text", "send_message"]
    assert saved["steps"][1]["configuration"] == {
        "chat_id": "42",
        "text": "{{ steps.format_text.result }}",
        "disable_notification": False,
    }
    format_id, telegram_id = (uuid.UUID(s["id"]) for s in saved["steps"])

    # Telegram first, format_text removed, a delay added at the end: one save.
    telegram_key, delay_key = f"s{telegram_id.hex}", "n0000000000aa"
    edited = {
        key.replace(KEY_2, telegram_key): value for key, value in form.items() if not key.startswith(KEY_1)
    } | {
        "step": [telegram_key, delay_key],
        f"{telegram_key}.configuration.text": "Hello",
        f"{delay_key}.service_name": "core",
        f"{delay_key}.action_name": "delay",
        f"{delay_key}.rendered": "core/delay",
        f"{delay_key}.configuration.minutes": "5",
        f"{delay_key}.is_enabled": "true",
    }
    replaced = await browser.post(f"/workflows/{workflow_id}", edited)

    assert replaced.status_code == 303, replaced.text
    after = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert [(s["action_name"], s["step_order"]) for s in after["steps"]] == [
        ("send_message", 1),
        ("delay", 2),
    ]
    assert after["steps"][0]["id"] == str(telegram_id)
    assert str(format_id) not in {s["id"] for s in after["steps"]}
    assert after["steps"][1]["configuration"] == {"minutes": 5}


async def test_a_secret_in_a_step_is_refused_on_its_field_and_nothing_is_saved(browser: Browser) -> None:
    form = _webhook_form(
        **{
            f"{KEY_1}.configuration.text": "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
            "intent": "save",
        }
    )

    response = await browser.post("/workflows/new", form)

    assert response.status_code == 422
    assert "Nothing was saved" in response.text or "cannot be saved" in response.text
    assert "integration" in _slot(response.text, f"err-{KEY_1}-configuration-text").lower()
    listed = (await browser.client.get("/api/v1/workflows", headers=browser.api)).json()
    assert listed["total"] == 0


async def test_the_data_picker_offers_the_sample_and_earlier_steps(browser: Browser) -> None:
    picker = (await browser.post(f"/workflows/builder/picker?card={KEY_2}", _webhook_form())).text
    first = (await browser.post(f"/workflows/builder/picker?card={KEY_1}", _webhook_form())).text

    assert 'data-insert="{{ trigger.body.title }}"' in picker
    assert "Disk full" in picker
    assert 'data-insert="{{ steps.format_text.result }}"' in picker
    assert "steps.format_text" not in first


async def test_export_downloads_json_and_import_lists_its_errors(browser: Browser) -> None:
    created = await browser.post("/workflows/new", _webhook_form(intent="save"))
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]

    exported = await browser.client.get(f"/workflows/{workflow_id}/export")
    document = exported.json()
    document["steps"][0]["action_name"] = "no_such_action"
    refused = await browser.post(
        "/workflows/import", files={"document_file": ("wf.json", json.dumps(document), "application/json")}
    )
    not_json = await browser.post(
        "/workflows/import", files={"document_file": ("wf.json", b"{not json", "application/json")}
    )

    assert exported.headers["content-disposition"].startswith("attachment;")
    assert refused.status_code == 422
    assert "no_such_action" in refused.text
    assert 'id="import-problems"' in refused.text
    assert not_json.status_code == 422
    assert "not a workflow export" in not_json.text


async def test_the_conditions_editor_adds_rules_and_groups_and_shows_their_problems(browser: Browser) -> None:
    form = _webhook_form()
    url = f"/workflows/builder/card?card={KEY_1}&tree=conditions"

    one_rule = (await browser.post(f"{url}&edit=add-rule&path=", form)).text
    with_group = form | {
        f"{KEY_1}.conditions.match": "any",
        f"{KEY_1}.conditions.rules.0.kind": "rule",
        f"{KEY_1}.conditions.rules.0.left": "{{ trigger.body.title }}",
        f"{KEY_1}.conditions.rules.0.op": "contains",
        f"{KEY_1}.conditions.rules.0.right": "disk",
    }
    grouped = (await browser.post(f"{url}&edit=add-group&path=", with_group)).text
    nested = with_group | {
        f"{KEY_1}.conditions.rules.1.kind": "group",
        f"{KEY_1}.conditions.rules.1.match": "all",
        f"{KEY_1}.conditions.rules.1.rules.0.kind": "rule",
        f"{KEY_1}.conditions.rules.1.rules.0.left": "{{ steps.nothing.here }}",
        f"{KEY_1}.conditions.rules.1.rules.0.op": "is_not_empty",
    }
    checked = (await browser.post("/workflows/builder/check", nested)).text
    removed = (await browser.post(f"{url}&edit=remove&path=1", nested)).text

    assert f'name="{KEY_1}.conditions.rules.0.left"' in one_rule
    assert f'name="{KEY_1}.conditions.rules.1.rules.0.left"' in grouped
    assert "steps.nothing" not in _slot(checked, f"err-{KEY_1}-conditions-rules-0-left")
    assert "nothing" in _slot(checked, f"err-{KEY_1}-conditions-rules-1-rules-0-left")
    assert f"{KEY_1}.conditions.rules.1" not in removed
    assert 'value="{{ trigger.body.title }}"' in removed


async def test_a_telegram_trigger_is_step_one_and_comes_back_as_the_trigger_card(browser: Browser) -> None:
    card = (await browser.post("/workflows/builder/trigger", {"trigger_kind": "telegram"})).text
    form = _webhook_form(
        trigger_kind="telegram",
        sample="",
        intent="save",
        **{
            "trigger.rendered": "telegram",
            "trigger.configuration.text_contains": "alert",
            f"{KEY_2}.configuration.chat_id": "{{ trigger.chat_id }}",
            f"{KEY_1}.configuration.text": "{{ trigger.text }}",
        },
    )

    created = await browser.post("/workflows/new", form)

    assert 'name="trigger.configuration.chat_id"' in card
    assert "&#34;from_username&#34;" in card  # the Telegram message sample
    assert created.status_code == 303, created.text
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]
    saved = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert saved["trigger_type"] == "webhook"
    assert [(s["step_type"], s["action_name"]) for s in saved["steps"]] == [
        ("trigger", "new_message"),
        ("action", "format_text"),
        ("action", "send_message"),
    ]
    assert saved["steps"][0]["configuration"]["text_contains"] == "alert"
    page = (await browser.client.get(f"/workflows/{workflow_id}")).text
    assert '<option value="telegram" selected>' in page
    assert 'name="trigger.configuration.text_contains" type="text" value="alert"' in page


async def test_activation_refused_shows_each_problem_on_its_field(browser: Browser) -> None:
    created = await browser.post("/workflows/new", _webhook_form(intent="save"))
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]
    steps = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()[
        "steps"
    ]
    telegram_key = f"s{uuid.UUID(steps[1]['id']).hex}"

    refused = await browser.post(f"/workflows/{workflow_id}/activate", {})

    assert refused.status_code == 422
    assert "cannot be activated" in refused.text
    assert "required" in _slot(refused.text, f"err-{telegram_key}-configuration-chat_id").lower()
    status = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()[
        "status"
    ]
    assert status == "draft"


async def test_another_users_workflow_is_not_found_in_the_builder(
    browser: Browser, client: httpx.AsyncClient
) -> None:
    other = await client.post(
        "/api/v1/auth/signup",
        json={"email": f"o-{uuid.uuid4().hex[:8]}@example.com", "password": DEFAULT_PASSWORD},
    )
    headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    theirs = (await client.post("/api/v1/workflows", json={"name": "Theirs"}, headers=headers)).json()["id"]

    page = await browser.client.get(f"/workflows/{theirs}")
    saved = await browser.post(f"/workflows/{theirs}", _webhook_form(intent="save"))
    exported = await browser.client.get(f"/workflows/{theirs}/export")

    assert page.status_code == 404
    assert saved.status_code == 404
    assert exported.status_code == 404


async def test_a_webhooks_own_signing_secret_survives_a_save_from_the_builder(browser: Browser) -> None:
    created = await browser.client.post(
        "/api/v1/workflows",
        json={
            "name": "Signed",
            "trigger_type": "webhook",
            "trigger_config": {"signing_secret": "our-own-secret-0042"},
        },
        headers=browser.api,
    )
    workflow_id = created.json()["id"]

    page = (await browser.client.get(f"/workflows/{workflow_id}")).text
    saved = await browser.post(
        f"/workflows/{workflow_id}",
        {
            "name": "Signed",
            "trigger_kind": "webhook",
            "trigger_config.require_signature": "true",
            "intent": "save",
        },
    )

    assert re.search(r'name="trigger_config.require_signature" type="checkbox" value="true" checked', page)
    assert "our-own-secret-0042" not in page
    assert saved.status_code == 303, saved.text
    after = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert after["trigger_config"] == {"signing_secret": "our-own-secret-0042"}


async def test_a_new_email_trigger_is_gmail_step_one_with_its_filters(browser: Browser) -> None:
    card = (await browser.post("/workflows/builder/trigger", {"trigger_kind": "email"})).text
    form = {
        "name": "Bank emails",
        "trigger_kind": "email",
        "trigger.rendered": "email",
        "trigger_config.poll_interval_seconds": "120",
        "trigger.configuration.from": "bank.example",
        "step": [KEY_1],
        f"{KEY_1}.service_name": "core",
        f"{KEY_1}.action_name": "format_text",
        f"{KEY_1}.rendered": "core/format_text",
        f"{KEY_1}.configuration.operation": "upper",
        f"{KEY_1}.configuration.text": "{{ trigger.subject }}",
        f"{KEY_1}.is_enabled": "true",
    }

    checked = (await browser.post("/workflows/builder/check", form)).text
    created = await browser.post("/workflows/new", form | {"intent": "save"})

    assert 'name="trigger_config.poll_interval_seconds"' in card
    assert 'name="trigger.configuration.from"' in card
    assert "&#34;subject&#34;: &#34;Design review&#34;" in card
    # Gmail is not connected yet: said on the trigger card's service.
    assert "Connect gmail" in _slot(checked, "err-trigger")
    assert created.status_code == 303, created.text
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]
    saved = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert (saved["trigger_type"], saved["trigger_config"]) == ("email", {"poll_interval_seconds": 120})
    assert (saved["steps"][0]["action_name"], saved["steps"][0]["configuration"]["from"]) == (
        "new_email",
        "bank.example",
    )


async def test_an_edit_that_would_stop_an_active_workflow_is_refused_and_nothing_changes(
    browser: Browser,
) -> None:
    form = {
        k: v
        for k, v in _webhook_form(trigger_kind="manual", intent="save").items()
        if not k.startswith(KEY_2)
    }
    created = await browser.post("/workflows/new", form | {"step": [KEY_1]})
    workflow_id = created.headers["location"].split("/")[2].split("?")[0]
    activated = await browser.post(f"/workflows/{workflow_id}/activate", {})
    step = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()[
        "steps"
    ][0]
    key = f"s{uuid.UUID(step['id']).hex}"
    edited = {k.replace(KEY_1, key): v for k, v in form.items()} | {
        "step": [key],
        f"{key}.configuration.text": "",
        "name": "Renamed",
    }

    refused = await browser.post(f"/workflows/{workflow_id}", edited)

    assert activated.status_code == 303
    assert refused.status_code == 422
    assert "would leave this active workflow unable to run" in refused.text
    assert "required" in _slot(refused.text, f"err-{key}-configuration-text").lower()
    after = (await browser.client.get(f"/api/v1/workflows/{workflow_id}", headers=browser.api)).json()
    assert (after["name"], after["status"]) == ("Alerts to Telegram", "active")
    assert after["steps"][0]["configuration"]["text"] == "{{ trigger.body.title }}"
