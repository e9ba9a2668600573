"""Browser test harness: one real `autofy serve` per test module, headless Chromium, helpers.

- `live_server` (module): `python -m autofy serve` (API, workers and scheduler) on a free port and a
  fresh migrated database of its own, with cheap password hashing and loopback allowed for the
  fakes in tests/fakes/. `live_server.url` is its base URL, `live_server.database_url` its database.
  A module adds settings by overriding `live_server_environment` (say, a mail server).
- `browser` (module): Debian's Chromium (/usr/bin/chromium, or AUTOFY_TEST_CHROMIUM), headless.
- `page` (function): a fresh context (no cookies, 1280×800) whose relative URLs go to the live
  server; any request to another host is aborted and its URL appended to `blocked_requests`.
- Helpers to sign up, check accessibility and take screenshots are in tests/web/browser.py.

Playwright's sync API runs its own event loop, so browser tests are plain (sync) functions.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

from autofy.runtime import generate_encryption_key
from tests.api_fixtures import TEST_JWT_SECRET
from tests.conftest import TEMPLATE_DATABASE, _admin
from tests.support import database_url_with_name

CHROMIUM = os.environ.get("AUTOFY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_STARTUP_SECONDS = 60


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_database_url(postgres_server_url: str, template_database_url: str) -> Iterator[str]:
    """A migrated database for this module's server (the tests of a module share it)."""
    name = f"autofy_web_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f"create database {name} template {TEMPLATE_DATABASE}"))
    yield database_url_with_name(postgres_server_url, name)
    asyncio.run(_admin(postgres_server_url, f"drop database if exists {name} with (force)"))


@pytest.fixture(scope="module")
def live_server_environment() -> dict[str, str]:
    """Extra AUTOFY_* settings for this module's server (override in a module: a mail server, say)."""
    return {}


@pytest.fixture(scope="module")
def live_server(live_database_url: str, live_server_environment: dict[str, str]) -> Iterator[LiveServer]:
    with running_server(live_database_url, live_server_environment) as (server, _):
        yield server


@contextmanager
def running_server(
    database_url: str, extra_environment: dict[str, str] | None = None
) -> Iterator[tuple[LiveServer, subprocess.Popen[bytes]]]:
    """`autofy serve` on `database_url` (already migrated) and a free port, until the block ends;
    its process too, for a test that stops it itself. Servers on one database accept each other's
    session cookies."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = os.environ | {
        "AUTOFY_DATABASE_URL": database_url,
        "AUTOFY_JWT_SECRET": TEST_JWT_SECRET,
        "AUTOFY_ENCRYPTION_KEYS": generate_encryption_key(),
        "AUTOFY_PASSWORD_HASH_MEMORY_KIB": "1024",
        "AUTOFY_PASSWORD_HASH_TIME_COST": "1",
        "AUTOFY_OUTBOUND_ALLOW_PRIVATE_NETWORK": "true",
        "AUTOFY_PUBLIC_URL": url,
        "AUTOFY_LOG_LEVEL": "WARNING",
    }
    environment |= extra_environment or {}
    with tempfile.TemporaryDirectory(prefix="autofy-web-") as folder:
        log_path = Path(folder) / "server.log"
        with log_path.open("wb") as log:
            # cwd: a folder without a .env, so only the environment above configures the server.
            process = subprocess.Popen(
                [sys.executable, "-m", "autofy", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=folder,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_healthy(url, process, log_path)
                yield LiveServer(url=url, database_url=database_url), process
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"autofy serve exited:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting process: there is no event to wait on
    raise AssertionError(f"autofy serve did not answer within {_STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def playwright(live_server: LiveServer) -> Iterator[Playwright]:
    # After the server (and its database) are up: while Playwright runs, its event loop counts as
    # running in this thread, so `asyncio.run` fails here (use tests.web.browser.run_async).
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def blocked_requests() -> list[str]:
    """URLs the page tried to fetch from anywhere but the live server (blocked)."""
    return []


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, blocked_requests: list[str]) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})

    def only_the_live_server(route: Route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            blocked_requests.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_live_server)
    browser_page = context.new_page()
    yield browser_page
    context.close()
