"""Home with real runs: a workflow run by the live server's workers shows up, linked to its page."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.engine.steps import format_text
from tests.web.browser import assert_accessible, screenshot, sign_up
from tests.web.conftest import LiveServer


def _wait_until_finished(api: httpx.Client, execution_id: str) -> None:
    deadline = time.monotonic() + 30
    while api.get(f"/api/v1/executions/{execution_id}").json()["execution_status"] == "running":
        assert time.monotonic() < deadline, "the run did not finish within 30 s"
        time.sleep(0.05)  # the workers are another process: poll its result, with a deadline


def test_a_finished_run_appears_on_home_and_opens_its_page(page: Page, live_server: LiveServer) -> None:
    email = sign_up(page, full_name="Katherine Johnson")
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
    created = api.post(
        "/api/v1/workflows",
        json={
            "name": "Shout the word",
            "trigger_type": "manual",
            "steps": [format_text("{{ trigger.word }}")],
        },
    )
    assert created.status_code == 201, created.text
    started = api.post(f"/api/v1/workflows/{created.json()['id']}/run", json={"word": "ping"})
    started.raise_for_status()
    _wait_until_finished(api, started.json()["execution_id"])

    page.reload()
    expect(page.locator("tbody .badge-completed")).to_have_text("completed")
    expect(page.locator(".stat", has_text="Runs completed today").locator(".stat-value")).to_have_text("1")
    assert_accessible(page)
    screenshot(page, "home", phone=True)

    page.get_by_role("link", name="Shout the word").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run of Shout the word")
    expect(page.locator(".run-facts .badge")).to_have_text("completed")
    assert_accessible(page)
    api.close()
