"""Browser journeys through Integrations, Templates and the Workflows list, on a real `autofy serve`
with the fake Telegram and Gmail servers behind it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.fakes.gmail import FakeGmail
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import assert_accessible, screenshot, sign_up
from tests.web.conftest import LiveServer

FORMAT_STEP = {
    "step_type": "action",
    "service_name": "core",
    "action_name": "format_text",
    "configuration": {"operation": "upper", "text": "{{ trigger.word }}"},
}
XSS = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned = 2">'


def _api(live_server: LiveServer, email: str) -> httpx.Client:
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def _assert_inert(page: Page) -> None:
    expect(page.get_by_text(XSS).first).to_be_visible()
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img[src='x']").count() == 0


def test_connect_telegram_test_it_and_create_a_workflow_from_a_template(
    page: Page, fake_telegram: FakeTelegram
) -> None:
    sign_up(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    expect(page.get_by_text("No services connected")).to_be_visible()
    assert_accessible(page)

    page.get_by_text("Connect Telegram", exact=True).click()
    telegram = page.locator("#service-telegram")
    telegram.get_by_role("button", name="Connect", exact=True).click()
    expect(telegram.get_by_label("Bot token")).to_have_attribute("aria-invalid", "true")
    expect(telegram.get_by_text("required: Bot token")).to_be_visible()
    assert_accessible(page)
    telegram.scroll_into_view_if_needed()
    screenshot(page, "integrations-connect")
    telegram.get_by_label("Bot token").fill(fake_telegram.token)
    telegram.get_by_text("Connection settings").click()
    telegram.get_by_label("API base URL").fill(fake_telegram.url)
    telegram.get_by_role("button", name="Connect", exact=True).click()

    expect(page.get_by_role("status").first).to_contain_text("Telegram is connected.")
    expect(page).to_have_url(re.compile(r"/integrations\?connected=[0-9a-f-]+#integration-"))
    card = page.locator(".connection", has_text="Telegram")
    expect(card.locator(".badge")).to_have_text("active")
    page.wait_for_load_state()  # htmx ready: the test answers in the card, not in a page of its own
    with page.expect_response(re.compile(r"/integrations/[0-9a-f-]+/test$")):
        card.get_by_role("button", name="Test connection").click()
    result = page.locator(".test-result")
    expect(result).to_contain_text("Connection works. Connected to Telegram as @autofy_test_bot")
    expect(result).to_be_focused()
    assert page.locator("input[type=password][value]").count() == 0  # no secret written back
    assert fake_telegram.token not in page.content()
    assert_accessible(page)
    screenshot(page, "integrations", phone=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Notifications").click()
    expect(page.locator(".template-card")).to_have_count(1)
    assert_accessible(page)
    page.get_by_role("link", name="All", exact=True).click()
    assert_accessible(page)
    screenshot(page, "templates", phone=True)

    webhook_alerts = page.locator(".template-card", has_text="Webhook alerts to Telegram")
    webhook_alerts.get_by_role("link", name=re.compile("^Use this template")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook alerts to Telegram")
    expect(page.locator(".needed-service")).to_contain_text("connected")
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_text("required: Telegram chat")).to_be_visible()
    expect(page.get_by_label("Telegram chat")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "template-wizard")
    page.get_by_label("Workflow name").fill("Pager alerts")
    page.get_by_label("Telegram chat").fill("4242")
    page.get_by_role("button", name="Create workflow").click()

    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pager alerts")


def test_the_workflows_list_filters_and_switches_with_refusals_inline(
    page: Page, live_server: LiveServer, fake_telegram: FakeTelegram, request: pytest.FixtureRequest
) -> None:
    email = sign_up(page)
    api = _api(live_server, email)
    request.addfinalizer(api.close)
    for name, tags in (("Morning report", ["report"]), ("Invoice archive", ["finance"]), (XSS, ["report"])):
        body = {
            "name": name,
            "trigger_type": "manual",
            "tags": tags,
            "description": f"About {name[:10]}",
            "steps": [FORMAT_STEP],
        }
        api.post("/api/v1/workflows", json=body).raise_for_status()
    telegram_step = {
        "step_type": "action",
        "service_name": "telegram",
        "action_name": "send_message",
        "configuration": {"chat_id": "", "text": "hi"},
    }
    alerts = {"name": "Alerts", "trigger_type": "manual", "steps": [telegram_step]}
    api.post("/api/v1/workflows", json=alerts).raise_for_status()

    page.goto("/workflows")
    _assert_inert(page)
    page.get_by_label("Search").fill("invoice")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Clear", exact=True).click()
    # The filtered page shows some of the same rows: act only once the full list has replaced it.
    expect(page.locator("tbody tr")).to_have_count(4)
    page.get_by_label("Tag").select_option("report")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Clear", exact=True).click()
    # The filtered page shows some of the same rows: act only once the full list has replaced it.
    expect(page.locator("tbody tr")).to_have_count(4)

    morning = page.get_by_role("switch", name="Active: Morning report")
    morning.focus()
    with page.expect_response(re.compile(r"/workflows/[0-9a-f-]+/active$")):
        page.keyboard.press("Space")
    expect(page.locator("tr", has_text="Morning report").locator(".badge")).to_have_text("active")
    expect(page.get_by_role("switch", name="Active: Morning report")).to_be_checked()
    expect(page.get_by_role("switch", name="Active: Morning report")).to_be_focused()

    with page.expect_response(re.compile(r"/workflows/[0-9a-f-]+/active$")):
        page.get_by_role("switch", name="Active: Alerts").click()
    refusal = page.locator("tr", has_text="Alerts").get_by_role("alert")
    expect(refusal).to_contain_text("Not activated")
    expect(refusal.get_by_role("link", name="Connect telegram")).to_have_attribute(
        "href", "/integrations#service-telegram"
    )
    expect(page.get_by_role("switch", name="Active: Alerts")).not_to_be_checked()
    assert_accessible(page)
    screenshot(page, "workflows", phone=True)


def test_remove_an_integration_a_workflow_uses_after_landing_from_home(
    page: Page, live_server: LiveServer, fake_telegram: FakeTelegram, request: pytest.FixtureRequest
) -> None:
    email = sign_up(page)
    api = _api(live_server, email)
    request.addfinalizer(api.close)
    created = api.post(
        "/api/v1/integrations",
        json={
            "service_name": "telegram",
            "display_name": XSS,
            "credentials": {"bot_token": "7012345678:refused"},
            "configuration": {"api_base": fake_telegram.url},
        },
    )
    integration_id = created.json()["id"]
    api.post(f"/api/v1/integrations/{integration_id}/test").raise_for_status()  # refused: status error
    workflow = {
        "name": f"Night alerts {XSS}",
        "trigger_type": "manual",
        "steps": [
            {
                "step_type": "action",
                "service_name": "telegram",
                "action_name": "send_message",
                "configuration": {"chat_id": "42", "text": "hi"},
            }
        ],
    }
    api.post("/api/v1/workflows", json=workflow).raise_for_status()

    page.goto("/")
    page.get_by_role("link", name="Reconnect").click()
    expect(page).to_have_url(f"/integrations#integration-{integration_id}")
    card = page.locator(f"#integration-{integration_id}")
    expect(card).to_be_in_viewport()
    expect(card.locator(".badge")).to_have_text("error")
    expect(card.get_by_label("Bot token")).to_be_visible()  # its reconnect form opened
    _assert_inert(page)
    assert_accessible(page)

    card.get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Remove")
    expect(page.get_by_text("1 workflow uses this connection")).to_be_visible()
    expect(page.get_by_role("link", name=f"Night alerts {XSS}")).to_be_visible()
    _assert_inert(page)
    assert_accessible(page)
    page.get_by_role("button", name=re.compile("^Remove")).click()

    expect(page.get_by_role("status").first).to_have_text("The Telegram integration was removed.")
    expect(page.get_by_text("No services connected")).to_be_visible()
    assert api.get("/api/v1/integrations").json() == []


def test_connect_with_google_goes_through_the_consent_screen_and_back(
    page: Page, fake_gmail: FakeGmail
) -> None:
    sign_up(page)
    # The fake's consent screen is on another port: let the browser go there (see conftest's `page`).
    page.route(f"{fake_gmail.url}/**", lambda route: route.continue_())

    page.goto("/integrations")
    page.get_by_text("Connect Gmail", exact=True).click()
    gmail = page.locator("#service-gmail")
    gmail.get_by_label("OAuth client ID").fill(fake_gmail.state.client_id)
    gmail.get_by_label("OAuth client secret").fill(fake_gmail.state.client_secret)
    gmail.get_by_text("Connection settings").click()
    gmail.get_by_label("API base URL").fill(fake_gmail.url)
    gmail.get_by_label("Authorize url").fill(f"{fake_gmail.url}/o/oauth2/v2/auth")
    gmail.get_by_label("Token url").fill(f"{fake_gmail.url}/token")
    gmail.get_by_role("button", name="Save, then connect with Google").click()
    expect(page.get_by_role("status").first).to_contain_text("the OAuth client is saved")
    page.get_by_role("link", name="Connect with Google").click()

    expect(page).to_have_url(re.compile(r"/integrations\?gmail=connected#integration-"))
    expect(page.get_by_role("status").first).to_contain_text("Gmail is connected")
    expect(page.locator(".connection", has_text="Gmail").locator(".badge")).to_have_text("active")
    with page.expect_response(re.compile(r"/integrations/[0-9a-f-]+/test$")):
        page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".test-result")).to_contain_text(fake_gmail.state.email_address)

    # Refused on Google's page this time: the page says so, and the connection keeps working.
    fake_gmail.deny_consent = True
    page.get_by_role("link", name="Connect with Google").click()
    expect(page).to_have_url(re.compile(r"/integrations\?gmail=denied#integration-"))
    expect(page.get_by_role("alert").first).to_contain_text("Access was not granted on Google's page")
    assert_accessible(page)
