"""Sign up, sign in, sign out, Home and the error pages, in Chromium against `autofy serve`."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.browser import assert_accessible, new_email, screenshot, sign_in, sign_up
from tests.web.conftest import LiveServer


def test_sign_up_shows_home_then_sign_out_protects_pages(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    assert_accessible(page)
    screenshot(page, "signin")

    sign_up(page, full_name="Grace Hopper")

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Grace Hopper")
    expect(page.get_by_text("No workflows yet")).to_be_visible()
    expect(page.get_by_role("link", name="Browse templates")).to_have_attribute("href", "/templates")
    expect(page.get_by_text("of 1000")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "home-empty")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url("/signin")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))


def test_signing_out_ends_the_session_on_the_server(page: Page, live_server: LiveServer) -> None:
    sign_up(page)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url("/signin")

    # The cookie copied before signing out no longer opens a page.
    replay = httpx.get(f"{live_server.url}/", cookies=cookies, follow_redirects=False)
    assert replay.status_code == 303
    assert replay.headers["location"] == "/signin?next=%2F"


def test_sign_in_with_a_wrong_password_says_so_and_keeps_the_email(page: Page) -> None:
    email = sign_up(page)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, email, "not-the-password")

    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    assert_accessible(page)

    sign_in(page, email)
    expect(page).to_have_url("/")


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(page: Page) -> None:
    email = sign_up(page)
    page.get_by_role("button", name="Sign out").click()

    page.goto("/signin?next=//evil.example/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("Correct-Horse-Battery-9")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/")


def test_sign_up_shows_each_problem_on_its_field(page: Page) -> None:
    page.goto("/signup")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill("x")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#error-email")).to_have_text("Enter an email address like name@example.com.")
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Email").fill(new_email())
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#error-password")).to_contain_text("at least 10 characters")
    assert_accessible(page)
    screenshot(page, "signup-errors")


def test_the_name_a_user_types_is_shown_as_text_never_run(page: Page) -> None:
    payload = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned = 2">'
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    sign_up(page, full_name=payload)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {payload}")
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img").count() == 0
    assert not dialogs


def test_unknown_pages_get_the_not_found_page_and_the_api_keeps_json(page: Page) -> None:
    response = page.goto("/no-such-page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert_accessible(page)

    api = page.request.get("/api/v1/no-such-route")
    assert api.status == 404
    assert api.json()["error"]["code"] == "not_found"
