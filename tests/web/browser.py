"""Helpers for browser tests: accounts, the axe-core accessibility check, screenshots."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD

# axe-core 4 (npm `axe-core`, MPL-2.0), vendored: the tests run without internet.
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PHONE = {"width": 375, "height": 812}
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end (say, a service call on `live_server.database_url`): in a thread
    of its own, since Playwright's event loop occupies the test's."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def sign_up(page: Page, *, email: str | None = None, full_name: str = "Ada Lovelace") -> str:
    """Create an account through the sign-up form; the page ends signed in, on Home."""
    email = email or new_email()
    page.goto("/signup")
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url("/")
    return email


def sign_in(page: Page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE_SOURCE)
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def assert_accessible(page: Page) -> None:
    violations = accessibility_violations(page)
    summary = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]],
        }
        for v in violations
    ]
    assert not violations, json.dumps(summary, indent=2)


def screenshot(page: Page, name: str, *, phone: bool = False) -> None:
    """docs/images/<name>-light.png and -dark.png (and -phone.png at 375 px wide when asked)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    theme = page.evaluate("document.documentElement.dataset.theme")
    for shown in ("light", "dark"):
        page.evaluate("theme => { document.documentElement.dataset.theme = theme }", shown)
        page.screenshot(path=IMAGES / f"{name}-{shown}.png", full_page=True)
    if phone:
        size = page.viewport_size
        page.evaluate("() => { document.documentElement.dataset.theme = 'light' }")
        page.set_viewport_size(PHONE)
        page.screenshot(path=IMAGES / f"{name}-phone.png", full_page=True)
        assert size is not None
        page.set_viewport_size(size)
    page.evaluate("theme => { document.documentElement.dataset.theme = theme }", theme)
