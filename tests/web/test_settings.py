"""Account, API keys, audit log and usage, in Chromium against `autofy serve` (one server for all)."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Browser, Dialog, Page, expect

from autofy.db.engine import Database
from tests.api_fixtures import DEFAULT_PASSWORD
from tests.factories import User, create_execution, create_workflow
from tests.web.browser import assert_accessible, run_async, screenshot, sign_in, sign_up
from tests.web.conftest import LiveServer

XSS = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned = 2">'
NEW_PASSWORD = "Brand-New-Secret-42"


def _accept(dialogs: list[str]) -> Callable[[Dialog], None]:
    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    return accept


def _assert_inert(page: Page) -> None:
    """No payload ran: nothing set `window.pwned`, and no <img> came out of user text."""
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img:not(.avatar)").count() == 0


def _user_id(live_server: LiveServer, email: str, password: str = DEFAULT_PASSWORD) -> uuid.UUID:
    tokens = httpx.post(f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": password})
    me = httpx.get(
        f"{live_server.url}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
    )
    return uuid.UUID(me.json()["id"])


def test_a_key_is_created_used_seen_in_the_audit_log_and_revoked(page: Page, live_server: LiveServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    dialogs: list[str] = []
    page.on("dialog", _accept(dialogs))
    sign_up(page)

    page.locator(".user-menu summary").click()
    page.get_by_role("navigation", name="Account").get_by_role("link", name="API keys").click()
    expect(page).to_have_url("/api-keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Name").fill("ci")
    page.get_by_label(re.compile("Write:")).check()
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("alert")).to_contain_text("will never show it again")
    key = page.get_by_label("API key", exact=True).input_value()
    assert key.startswith("afy_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert_accessible(page)
    screenshot(page, "api-keys", phone=True)

    # The key works with curl, as a script would use it.
    used = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "PUT",
            f"{live_server.url}/api/v1/preferences/ci-check",
            "-H",
            f"X-API-Key: {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"value": true}',
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert used.stdout.endswith("\n200"), used.stdout + used.stderr

    page.goto("/api-keys")
    row = page.get_by_role("row", name=re.compile("^ci "))
    expect(row.locator("td[data-label=Uses]")).to_have_text("1")
    expect(row.locator("td[data-label='Last used']")).not_to_have_text("Never used")
    expect(row.locator("td[data-label=Permissions]")).to_have_text("read, write")
    assert key not in page.content()

    page.goto("/audit")
    expect(page.get_by_text("Preference ci-check set from 127.0.0.1", exact=True)).to_be_visible()
    expect(page.get_by_text("API key ci created from 127.0.0.1", exact=True)).to_be_visible()

    page.goto("/api-keys")
    page.get_by_role("button", name="Revoke ci").click()
    assert dialogs == ["Revoke the API key ci? Programs using it will be refused at once."]
    expect(page.get_by_role("status")).to_have_text(
        "API key ci is revoked: requests with it are now refused."
    )
    expect(page.get_by_role("row", name=re.compile("^ci ")).locator(".badge")).to_have_text("revoked")

    refused = httpx.get(f"{live_server.url}/api/v1/auth/me", headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The API key has been revoked."

    page.goto("/audit")
    page.get_by_label("Action").select_option("api_key.revoke")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=api_key.revoke"))
    entries = page.locator(".audit-entry")
    expect(entries).to_have_count(1)
    expect(entries.locator(".audit-sentence")).to_have_text("API key ci revoked from 127.0.0.1")
    entries.get_by_text("Details").click()
    expect(entries.locator(".audit-json")).to_contain_text('"name": "ci"')
    assert_accessible(page)
    screenshot(page, "audit", phone=True)


def test_user_text_renders_inert_on_every_account_page(page: Page, live_server: LiveServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", _accept(dialogs))
    email = sign_up(page, full_name=XSS)

    page.goto("/api-keys")
    page.get_by_label("Name").fill(XSS)
    page.get_by_role("button", name="Create key").click()
    expect(page.locator(".new-key h2")).to_have_text(f"Your new key “{XSS}”")
    _assert_inert(page)
    page.goto("/api-keys")
    expect(page.locator(".key-name")).to_have_text(XSS)
    _assert_inert(page)

    # A workflow's name goes into the audit log's sentence and details.
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    created = httpx.post(
        f"{live_server.url}/api/v1/workflows",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": XSS, "trigger_type": "manual", "steps": []},
    )
    assert created.status_code == 201, created.text

    page.goto("/audit")
    expect(page.get_by_text(f"Workflow {XSS} created from 127.0.0.1", exact=True)).to_be_visible()
    for summary in page.locator(".audit-details summary").all():
        summary.click()
    expect(page.locator(".audit-json").first).to_contain_text(json.dumps(XSS))
    _assert_inert(page)

    page.goto("/account")
    expect(page.get_by_label("Full name")).to_have_value(XSS)
    expect(page.locator(".profile-name")).to_have_text(XSS)
    _assert_inert(page)

    page.get_by_label("Avatar image address").fill("javascript:alert(1)")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#error-avatar_url")).to_contain_text("starts with https://")
    expect(page.locator("img.avatar")).to_have_count(0)
    expect(page.get_by_label("Avatar image address")).to_have_value("javascript:alert(1)")

    # An http address that tries to break out of the attribute stays one attribute of one <img>.
    page.get_by_label("Avatar image address").fill(f"{live_server.url}/x.png{XSS}")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status").first).to_have_text("Your profile is saved.")
    expect(page.locator("img.avatar")).to_have_count(1)
    _assert_inert(page)
    assert not dialogs


def test_profile_theme_and_password_are_changed_from_the_account_page(
    page: Page, live_server: LiveServer
) -> None:
    email = sign_up(page, full_name="Ada Lovelace")
    menu = page.get_by_role("navigation", name="Account")
    page.locator(".user-menu summary").click()
    expect(menu).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    page.locator(".user-menu summary").click()
    menu.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account")

    page.get_by_label("Full name").fill("Ada King")
    page.get_by_label("Avatar image address").fill(f"{live_server.url}/static/icons/logo.svg")
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status").first).to_have_text("Your profile is saved.")
    expect(page.locator(".profile-name")).to_have_text("Ada King")
    expect(page.locator(".user-menu .account-name")).to_have_text("Ada King")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")
    page.wait_for_function("() => document.querySelector('img.avatar').naturalWidth > 0")

    # The theme applies as it is picked, and is saved without leaving the page.
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    page.get_by_label("Dark", exact=True).check()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-status")).to_have_text("Theme saved: dark.")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_label("Dark", exact=True)).to_be_checked()
    page.get_by_label("Light", exact=True).check()
    expect(page.locator("#theme-status")).to_have_text("Theme saved: light.")

    page.get_by_label("A run fails: by email").uncheck()
    page.get_by_role("button", name="Save notifications").click()
    expect(page.get_by_role("status").first).to_have_text("Your notification settings are saved.")
    page.reload()
    expect(page.get_by_label("A run fails: by email")).not_to_be_checked()
    expect(page.get_by_label("A run fails: in the app")).to_be_checked()

    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#error-current_password")).to_have_text("This is not your current password.")
    assert_accessible(page)

    page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").first).to_contain_text("Your password is changed.")
    assert_accessible(page)
    screenshot(page, "account", phone=True)

    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, email, DEFAULT_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    sign_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url("/")


def test_sign_out_everywhere_ends_the_session_of_another_browser(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    email = sign_up(page)
    other = browser.new_context(base_url=live_server.url)
    other_page = other.new_page()
    sign_in(other_page, email)
    expect(other_page).to_have_url("/")

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/account")
    sessions = page.get_by_role("region", name="Sessions")
    expect(sessions).to_contain_text("Signed in on 2 sessions:")
    expect(sessions.locator(".session-row")).to_have_count(2)
    expect(sessions.locator(".badge")).to_have_text(["This browser"])
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url("/signin?signed_out=everywhere")
    expect(page.get_by_role("status")).to_have_text(
        "You are signed out on every browser and device. Sign in again to continue here."
    )

    other_page.goto("/account")
    expect(other_page).to_have_url("/signin?next=%2Faccount")
    other.close()


def test_usage_shows_credits_runs_per_day_and_the_busiest_workflows(
    page: Page, live_server: LiveServer
) -> None:
    email = sign_up(page)
    page.goto("/usage")
    expect(page.get_by_text("No runs in the last 30 days")).to_be_visible()
    assert_accessible(page)

    user = User(id=_user_id(live_server, email), email=email, claims={})

    async def arrange() -> None:
        database = Database(live_server.database_url)
        try:
            digest = await create_workflow(database, user, name="Daily digest")
            alerts = await create_workflow(database, user, name="Invoice alerts")
            now = datetime.now(UTC)
            for days_ago in range(0, 30, 2):
                for _ in range(days_ago % 5 + 1):
                    await create_execution(
                        database,
                        digest,
                        execution_status="completed",
                        started_at=now - timedelta(days=days_ago),
                    )
            for days_ago in (1, 3, 4):
                await create_execution(
                    database, alerts, execution_status="failed", started_at=now - timedelta(days=days_ago)
                )
        finally:
            await database.dispose()

    run_async(arrange())
    page.reload()

    expect(page.locator(".stat", has_text="Plan").locator(".stat-value")).to_have_text("Free")
    expect(page.get_by_role("img", name="Runs per day over the last 30 days")).to_be_visible()
    assert page.locator(".runs-chart rect.chart-completed").count() == 15
    assert page.locator(".runs-chart rect.chart-failed").count() == 3
    description = page.locator("#chart-svg-desc").text_content() or ""
    assert "48 runs, 3 of them failed" in description
    busiest = page.get_by_role("region", name="Busiest workflows").locator("tbody tr")
    expect(busiest.nth(0)).to_contain_text("Daily digest")
    expect(busiest.nth(0).locator("td[data-label=Runs]")).to_have_text("45")
    expect(busiest.nth(1).locator("td[data-label=Failed]")).to_have_text("3")
    assert_accessible(page)
    screenshot(page, "usage", phone=True)
    page.get_by_text("Runs per day as a table").click()
    today = page.get_by_role("row", name=re.compile(datetime.now(UTC).strftime("%a %b %-d")))
    expect(today.locator("td").first).to_have_text("1")
    assert_accessible(page)
