"""Notifications and the status page in the browser: a failed run rings the bell, lists an inert
entry, sends one plain-text email to a real SMTP server, and is marked read; /status signed out."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert, text, update

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import DEFAULT_PASSWORD
from tests.engine.steps import format_text
from tests.notification_support import XSS_NAME, Inbox
from tests.web.browser import assert_accessible, run_async, screenshot, sign_up
from tests.web.conftest import LiveServer

DEADLINE_SECONDS = 30


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_server_environment(inbox: Inbox) -> dict[str, str]:
    return {"AUTOFY_SMTP_URL": inbox.url, "AUTOFY_MAIL_FROM": "Autofy <autofy@example.com>"}


def _poll(check: object, what: str) -> None:
    """Wait for a condition in another process (the server's workers), with a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # the workers are another process: poll, with a deadline


def _api(live_server: LiveServer, email: str) -> httpx.Client:
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def test_a_failed_run_and_low_credits_ring_the_bell_are_listed_inert_emailed_and_marked_read(
    page: Page, live_server: LiveServer, inbox: Inbox
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    email = sign_up(page, full_name="Grace Hopper")
    expect(page.locator(".bell-count")).to_have_count(0)
    with _api(live_server, email) as api:
        created = api.post(
            "/api/v1/workflows",
            json={
                "name": XSS_NAME,
                "trigger_type": "manual",
                "steps": [format_text("{{ trigger.missing }}")],
            },
        )
        assert created.status_code == 201, created.text
        run = api.post(f"/api/v1/workflows/{created.json()['id']}/run", json={}).json()["execution_id"]
        _poll(
            lambda: api.get(f"/api/v1/executions/{run}").json()["execution_status"] == "failed",
            "the run to fail",
        )
        user_id = uuid.UUID(api.get("/api/v1/profile").json()["id"])
    run_async(_use_credits(live_server.database_url, user_id, 920))

    page.reload()
    bell = page.get_by_role("link", name="Notifications, 2 unread")
    expect(bell.locator(".bell-count")).to_have_text("2")
    bell.click()
    expect(page).to_have_url("/notifications")
    expect(page.locator(".notification-unread")).to_have_count(2)
    entry = page.locator(".notification-unread", has_text="failed")
    expect(page.locator(".notification-unread", has_text="920 of your 1000 credits are used")).to_be_visible()
    expect(entry.get_by_role("link", name=f"A run of “{XSS_NAME}” failed")).to_have_attribute(
        "href", f"/runs/{run}"
    )
    expect(entry).to_contain_text("missing")
    # The payload is text on the page, never markup: no injected element, no script ran.
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert dialogs == []
    assert_accessible(page)
    screenshot(page, "notifications", phone=True)

    _poll(lambda: len([m for m in inbox.messages if m["To"] == email]) == 2, "the two emails")
    (sent,) = [m for m in inbox.messages if m["To"] == email and "failed" in m["Subject"]]
    assert sent.get_content_type() == "text/plain"
    assert XSS_NAME in sent.get_content()
    assert f"{live_server.url}/runs/{run}" in sent.get_content()

    entry.get_by_role("button", name="Mark read").click()
    expect(page).to_have_url("/notifications")
    expect(page.locator(".notification-unread")).to_have_count(1)
    expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".notification-unread")).to_have_count(0)
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    page.get_by_role("link", name="Unread (0)").click()
    expect(page.get_by_text("All caught up")).to_be_visible()
    assert_accessible(page)

    # Signed in, the status page keeps the account's navigation.
    page.get_by_role("link", name="Status").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Status")


async def _use_credits(database_url: str, user_id: uuid.UUID, used: int) -> None:
    """Credits spent, as the engine's bookkeeping records them."""
    database = Database(database_url, pool_size=1)
    try:
        async with database.service_session() as session:
            await session.execute(
                update(tables.profiles)
                .where(tables.profiles.c.id == user_id)
                .values(credits_used=used, credits_limit=1000)
            )
    finally:
        await database.dispose()


async def _a_day_of_checks(database_url: str) -> None:
    """History as the monitor leaves it after a day: every 15 minutes, with one hour of trouble."""
    database = Database(database_url, pool_size=1)
    now = datetime.now(UTC)
    rows = []
    for minutes_ago in range(16, 24 * 60, 15):
        at = now - timedelta(minutes=minutes_ago)
        trouble = 300 <= minutes_ago < 360
        for service in ("database", "queue", "workers", "scheduler"):
            status = "degraded" if trouble and service == "queue" else "healthy"
            if trouble and service == "workers" and minutes_ago < 330:
                status = "down"
            rows.append({"service_name": service, "status": status, "checked_at": at})
    try:
        async with database.service_session() as session:
            # The seed's "not checked yet" rows date from the install, a day and more ago.
            await session.execute(
                text(
                    "update system_status set checked_at = now() - interval '2 days' where metadata ? 'initial'"
                )
            )
            await session.execute(insert(tables.system_status), rows)
    finally:
        await database.dispose()


def test_the_status_page_signed_out(page: Page, live_server: LiveServer) -> None:
    run_async(_a_day_of_checks(live_server.database_url))

    page.goto("/status")

    expect(page).to_have_url("/status")  # no sign-in needed
    expect(page.get_by_role("heading", level=1)).to_have_text("Status")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    workers = page.locator(".status-service", has=page.get_by_role("heading", name="Workers"))
    strip = workers.get_by_role("img")
    expect(strip).to_have_attribute("aria-label", re.compile(r"0 degraded, [1-9]\d* down"))
    # A connector nobody uses was never checked, and says so rather than "Operational".
    gmail = page.locator(".status-unchecked li", has_text="Gmail")
    expect(gmail.locator(".status-badge")).to_have_text("Not checked yet")
    assert page.locator(".status-segment.segment-down").count() >= 2
    assert_accessible(page)
    screenshot(page, "status", phone=True)
