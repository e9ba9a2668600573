"""Every page of the navigation opens, passes the accessibility check and has its screenshot."""

from __future__ import annotations

import gzip

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.web.browser import assert_accessible, new_email, screenshot, sign_in, sign_up
from tests.web.conftest import LiveServer

PAGES = [
    ("/workflows", "Workflows", "No workflows yet"),
    ("/templates", "Templates", None),
    ("/runs", "Runs", "No runs here"),
    ("/integrations", "Integrations", "No services connected"),
]


@pytest.mark.parametrize(("path", "title", "empty_state"), PAGES)
def test_each_page_of_the_navigation_opens_and_is_accessible(
    page: Page, path: str, title: str, empty_state: str | None
) -> None:
    sign_up(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name=title).click()

    expect(page).to_have_url(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("link", name=title)).to_have_attribute("aria-current", "page")
    if empty_state:
        expect(page.get_by_text(empty_state)).to_be_visible()
    assert_accessible(page)
    screenshot(page, path.strip("/") + "-empty")  # the filled pages: their own modules


def test_htmx_requests_carry_the_csrf_token_from_the_body(page: Page) -> None:
    sign_up(page)

    # An htmx POST from the page: its X-CSRF-Token comes from hx-headers on <body>.
    page.wait_for_function("() => window.htmx !== undefined")
    with page.expect_response("**/signout") as signed_out:
        page.evaluate("() => htmx.ajax('POST', '/signout', {source: document.body, swap: 'none'})")
    assert signed_out.value.status == 303

    page.goto("/")
    expect(page).to_have_url("/signin?next=%2F")


def test_repeated_wrong_passwords_are_slowed_down_with_a_clear_message(page: Page) -> None:
    email = new_email()
    sign_up(page, email=email)
    page.get_by_role("button", name="Sign out").click()

    for _ in range(5):
        sign_in(page, email, "wrong-password")
        expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    sign_in(page, email)

    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins; try again in")


def test_the_theme_preference_sets_the_colours(page: Page, live_server: LiveServer) -> None:
    email = sign_up(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    token = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["access_token"]

    httpx.put(
        f"{live_server.url}/api/v1/preferences/theme",
        headers={"Authorization": f"Bearer {token}"},
        json={"value": "dark"},
    ).raise_for_status()
    page.reload()

    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"


def test_a_page_loads_less_than_150_kb_of_compressed_script_and_style(
    page: Page, live_server: LiveServer
) -> None:
    sign_up(page)
    assets = page.eval_on_selector_all(
        "script[src], link[rel=stylesheet]", "nodes => nodes.map(n => n.src || n.href)"
    )

    compressed = sum(len(gzip.compress(httpx.get(url).content)) for url in assets)

    assert len(assets) >= 3
    assert compressed < 150_000
