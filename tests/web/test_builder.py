"""The workflow builder in Chromium, against a real `autofy serve` and the fake Telegram: whole
journeys a user takes (the fragments one by one are in test_builder_forms.py)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import assert_accessible, screenshot, sign_up
from tests.web.conftest import LiveServer

XSS = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned = 2">'
CHAT = 4242
_DEADLINE_SECONDS = 30


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram().running() as server:
        assert isinstance(server, FakeTelegram)
        server.add_chat(CHAT, kind="group", title="Ops")
        yield server


def _api(live_server: LiveServer, email: str) -> httpx.Client:
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def _wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` (state outside the browser, such as a fake server's) until it is truthy."""
    deadline = time.monotonic() + _DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)  # polling another process's state: there is no event to wait on
    raise AssertionError(f"timed out waiting for {what}")


def _settled(page: Page) -> None:
    """Wait until htmx has no request in flight and has wired up what it swapped in (a select
    that re-renders its card must be wired before it is changed again)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def _ready(page: Page) -> None:
    """Wait until htmx has wired up a builder page just loaded (it does so once the document is)."""
    page.wait_for_function("() => document.readyState === 'complete' && window.htmx !== undefined")


def _cards(page: Page) -> Locator:
    return page.locator("#steps > [data-step-card]")


def _add_step(page: Page, after: int, service: str, action: str) -> Locator:
    """Add a step after the `after`-th card (0: first) and choose its action; the new card."""
    page.locator("#steps > .step-insert").nth(after).get_by_role("button", name="+ Add a step here").click()
    card = _cards(page).nth(after)
    _settled(page)
    expect(card.get_by_label("Service")).to_be_focused()
    card.get_by_label("Service").select_option(label=service)
    _settled(page)
    card.get_by_label("Action").select_option(label=action)
    _settled(page)
    expect(card.locator(".step-config")).to_be_visible()
    return _cards(page).nth(after)


def _field(card: Locator, name: str) -> Locator:
    """The card's configuration field `name` (its label may carry a required mark)."""
    return card.locator(f"[name$='.configuration.{name}']")


def _drag(page: Page, handle: Locator, onto: Locator) -> None:
    """Drag `handle` onto `onto` with the mouse, both in view at once (no scrolling mid-drag)."""
    onto.evaluate("element => element.scrollIntoView({block: 'start'})")
    start, end = handle.bounding_box(), onto.bounding_box()
    assert start is not None
    assert end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + 10, end["y"] + end["height"] / 2, steps=5)
    page.mouse.up()


def _pick(page: Page, card: Locator, field: str, reference: str) -> None:
    """Put the caret in the card's `field` and insert `reference` with the data picker."""
    _field(card, field).click()
    card.get_by_role("button", name="Insert data…").click()
    card.locator(f'[data-insert="{{{{ {reference} }}}}"]').click()


def test_connect_build_test_activate_trigger_watch_and_rerun_a_webhook_to_telegram_workflow(
    page: Page, live_server: LiveServer, telegram: FakeTelegram
) -> None:
    sign_up(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    page.get_by_text("Connect Telegram", exact=True).click()
    service = page.locator("#service-telegram")
    service.get_by_label("Bot token").fill(telegram.token)
    service.get_by_text("Connection settings").click()
    service.get_by_label("API base URL").fill(telegram.url)
    service.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Telegram is connected.")

    page.goto("/workflows/new")
    _ready(page)
    page.get_by_label("Name").fill("Alerts to Telegram")
    page.get_by_label("What starts this workflow").select_option("webhook")
    _settled(page)
    page.get_by_label("Require signed deliveries (HMAC-SHA256)").check()
    page.get_by_label("Sample trigger data for test runs (JSON)").fill(
        json.dumps({"body": {"text": "Disk full"}, "headers": {}, "query": {}})
    )

    formatter = _add_step(page, 0, "Built-in steps", "Format text")
    formatter.get_by_label("Operation").select_option("upper")
    _pick(page, formatter, "text", "trigger.body.text")
    expect(_field(formatter, "text")).to_have_value("{{ trigger.body.text }}")

    sender = _add_step(page, 1, "Telegram", "Send message")
    # The validator's problem appears on the field it concerns, and goes once it is fixed.
    chat_problem = sender.locator("[data-error-slot][id$='-configuration-chat_id']")
    expect(chat_problem).to_contain_text("required")
    expect(sender.get_by_label("Chat Id")).to_have_attribute("aria-invalid", "true")
    sender.get_by_label("Chat Id").fill(str(CHAT))
    expect(chat_problem).to_be_empty()
    _pick(page, sender, "text", "steps.format_text.result")
    expect(page.locator("#builder-summary")).to_have_text("No problems found.")

    page.get_by_role("button", name="Save and test").click()

    expect(page.get_by_role("status").filter(has_text="test run has started")).to_be_visible()
    _ready(page)
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    expect(_cards(page).nth(0).locator(".step-result")).to_contain_text('"result": "DISK FULL"')
    expect(_cards(page).nth(1).locator(".step-result")).to_contain_text("completed")
    assert [params["text"] for _, params in telegram.sent] == ["DISK FULL"]
    # The data picker now offers the test run's real output.
    _cards(page).nth(1).get_by_role("button", name="Insert data…").click()
    expect(_cards(page).nth(1).locator('[data-insert="{{ steps.format_text.result }}"]')).to_contain_text(
        "DISK FULL"
    )
    # The conditions editor, open for the accessibility check.
    options = _cards(page).nth(0).locator(".step-options")
    options.locator("summary").click()
    options.get_by_role("button", name="Add a rule").click()
    _settled(page)
    expect(_cards(page).nth(0).get_by_label("Test")).to_have_value("equals")
    expect(_cards(page).nth(0).locator(".step-result")).to_contain_text("DISK FULL")
    _cards(page).nth(0).locator(".step-options").locator("summary").click()
    assert_accessible(page)
    _cards(page).nth(0).locator(".step-options").locator("summary").click()
    # At the bottom, the sticky Save bar sits in its place in the full-page picture.
    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, document.body.scrollHeight) }")
    screenshot(page, "builder", phone=True)

    page.get_by_role("button", name="Activate").click()

    expect(page.get_by_text("Activated: the workflow now runs")).to_be_visible()
    _ready(page)
    builder = page.url
    url = page.locator("#webhook-url").inner_text()
    curl = page.locator("pre.curl").inner_text()
    assert url in curl

    # The run the webhook starts appears on the runs list as it happens, without a reload.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    expect(page.get_by_role("status")).to_have_text("Updating live.")
    expect(page.locator("tbody tr")).to_have_count(1)  # the test run
    page.evaluate("() => { window.notReloaded = true }")
    # The signed curl example, pasted into a shell as it is shown.
    sent = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30, check=True)
    assert "execution_id" in sent.stdout, sent.stdout + sent.stderr
    expect(page.locator("tbody tr")).to_have_count(2)
    newest = page.locator("tbody tr").first
    expect(newest.locator(".badge")).to_have_text("completed")
    assert page.evaluate("() => window.notReloaded") is True
    assert telegram.sent[1][1]["text"] == "HELLO FROM CURL"
    # Unsigned, the same delivery is refused.
    assert httpx.post(url, json={"text": "forged"}).status_code == 404

    newest.get_by_role("link", name="Alerts to Telegram").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run of Alerts to Telegram")
    expect(page.locator(".timeline-step").nth(0).get_by_label("Output")).to_contain_text(
        '"result": "HELLO FROM CURL"'
    )
    page.get_by_role("button", name="Re-run").click()
    expect(page.locator(".run-facts .badge")).to_have_text("completed")
    _wait_for(lambda: len(telegram.sent) == 3, "the re-run's Telegram message")
    assert telegram.sent[2][1]["text"] == "HELLO FROM CURL"

    page.goto(builder)
    _ready(page)
    expect(page.locator("#run-status .badge")).to_have_text("completed")
    expect(_cards(page).nth(0).locator(".step-result")).to_contain_text("HELLO FROM CURL")

    page.get_by_role("button", name="Deactivate").click()

    expect(page.get_by_text("Paused: the trigger no longer starts runs")).to_be_visible()
    assert (
        subprocess.run(
            ["bash", "-c", curl + " -o /dev/null -w '%{http_code}'"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        == "404"
    )


def test_reorder_by_keyboard_then_export_and_import_round_trip(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    email = sign_up(page)
    with _api(live_server, email) as api:
        created = api.post(
            "/api/v1/workflows",
            json={
                "name": "Tidy text",
                "steps": [
                    {
                        "service_name": "core",
                        "action_name": "format_text",
                        "configuration": {"operation": "trim", "text": "{{ trigger.text }}"},
                    },
                    {
                        "service_name": "core",
                        "action_name": "set_fields",
                        "configuration": {"fields": {"kind": "note"}},
                    },
                ],
            },
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]

        page.goto(f"/workflows/{workflow_id}")
        _ready(page)
        first = _cards(page).nth(0)
        first.get_by_role("button", name="Move down").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#builder-announce")).to_have_text("Step moved to position 2.")
        expect(_cards(page).nth(0).locator(".step-title")).to_contain_text("Set fields")
        expect(_cards(page).nth(1).get_by_role("button", name="Move down")).to_be_focused()
        page.get_by_role("button", name="Save", exact=True).focus()
        page.keyboard.press("Enter")

        expect(page.get_by_text("Saved.")).to_be_visible()
        _ready(page)
        steps = api.get(f"/api/v1/workflows/{workflow_id}").json()["steps"]
        assert [step["action_name"] for step in steps] == ["set_fields", "format_text"]

        # Dragging a card by its handle moves it too.
        _drag(
            page,
            _cards(page).nth(1).locator("[data-drag-handle]"),
            _cards(page).nth(0).locator(".step-title"),
        )
        expect(_cards(page).nth(0).locator(".step-title")).to_contain_text("Format text")
        expect(page.locator("#builder-announce")).to_have_text("Step moved to position 1.")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export JSON").click()
    exported = tmp_path / "workflow.json"
    download.value.save_as(exported)
    assert json.loads(exported.read_text())["name"] == "Tidy text"

    page.goto("/workflows/new")
    _ready(page)
    # A schedule's next five fire times follow the expression as it is typed.
    page.get_by_label("What starts this workflow").select_option("scheduled")
    _settled(page)
    page.get_by_label("Repeat").select_option("cron")
    _settled(page)
    page.get_by_label("Cron expression").fill("30 7 * * 1-5")
    expect(page.locator("#schedule-preview li")).to_have_count(5)
    expect(page.locator("#schedule-preview li").first).to_contain_text("07:30")
    assert_accessible(page)
    page.get_by_label("Cron expression").fill("30 7 * *")
    expect(page.locator("#err-trigger_config")).to_contain_text("is not a valid cron expression")
    expect(page.locator("#schedule-preview li")).to_have_count(0)

    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"name": "Broken", "steps": [{"service_name": "core", "action_name": "nope"}]})
    )
    page.get_by_label("Workflow file (JSON, as exported from Autofy)").set_input_files(broken)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-problems")).to_contain_text("core has no action 'nope'")
    assert_accessible(page)

    page.get_by_label("Workflow file (JSON, as exported from Autofy)").set_input_files(exported)
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_text("Imported as a draft.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tidy text")
    expect(_cards(page).nth(0).locator(".step-title")).to_contain_text("Set fields")
    assert page.url != f"{live_server.url}/workflows/{workflow_id}"


def test_names_outputs_and_errors_from_users_render_inert_in_the_builder(
    page: Page, live_server: LiveServer
) -> None:
    email = sign_up(page)
    with _api(live_server, email) as api:
        created = api.post(
            "/api/v1/workflows",
            json={
                "name": XSS,
                "steps": [
                    {
                        "service_name": "core",
                        "action_name": "format_text",
                        "configuration": {"operation": "trim", "text": "{{ trigger.text }}"},
                    },
                    {
                        "service_name": "core",
                        "action_name": "format_text",
                        "configuration": {"operation": "truncate", "text": "x", "max_length": 0},
                    },
                ],
            },
        )
        assert created.status_code == 201, created.text
        workflow_id = created.json()["id"]
        # Long enough that the run's history keeps only the beginning of the output, marked.
        run = api.post(f"/api/v1/workflows/{workflow_id}/run", json={"text": XSS + " x" * 20_000})
        assert run.status_code == 202, run.text
        execution = f"/api/v1/executions/{run.json()['execution_id']}"
        _wait_for(lambda: api.get(execution).json()["execution_status"] != "running", "the run to end")

    page.goto(f"/workflows/{workflow_id}")

    expect(page.get_by_role("heading", level=1)).to_have_text(XSS)
    expect(_cards(page).nth(0).locator(".step-result")).to_contain_text("window.pwned = 1")
    expect(page.locator("#run-status .badge")).to_have_text("failed")
    expect(_cards(page).nth(0).locator(".result-truncated")).to_contain_text("Truncated: the output had")
    expect(_cards(page).nth(1).locator(".result-error")).to_be_visible()
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert_accessible(page)
