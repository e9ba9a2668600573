"""The web app's defences, checked from a browser and from a hostile client."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.api_fixtures import DEFAULT_PASSWORD
from tests.web.browser import assert_accessible, new_email, sign_up
from tests.web.conftest import LiveServer

XSS = '<script>window.pwned = 1</script>"><img src=x onerror="window.pwned = 2">'


def _api_token(live_server: LiveServer, email: str) -> dict[str, str]:
    response = httpx.post(
        f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _create_workflow(live_server: LiveServer, headers: dict[str, str], name: str) -> str:
    response = httpx.post(
        f"{live_server.url}/api/v1/workflows", headers=headers, json={"name": name, "trigger_type": "manual"}
    )
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


def test_pages_send_the_security_headers(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/signin")

    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in response.text.replace("<script src=", "")  # no inline script


def test_a_cross_site_form_post_is_refused(page: Page, live_server: LiveServer) -> None:
    sign_up(page)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    token = page.locator("input[name=csrf_token]").first.input_value()

    # The browser's cookies and even a valid token, but sent from another site's page.
    forged = httpx.post(
        f"{live_server.url}/signout",
        data={"csrf_token": token},
        cookies=cookies,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "another site" in forged.text

    # Same origin but no token: refused too.
    tokenless = httpx.post(f"{live_server.url}/signout", cookies=cookies, headers={"Origin": live_server.url})
    assert tokenless.status_code == 403

    # The session survived both: Home still opens.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def test_a_workflow_name_is_shown_as_text_never_run(page: Page, live_server: LiveServer) -> None:
    email = sign_up(page)
    workflow_id = _create_workflow(live_server, _api_token(live_server, email), XSS)

    for path in ("/workflows", f"/workflows/{workflow_id}"):
        page.goto(path)
        expect(page.get_by_text(XSS).first).to_be_visible()
        assert page.evaluate("window.pwned") is None
        assert page.locator("main img").count() == 0
    assert_accessible(page)


def test_another_users_workflow_is_not_found(page: Page, live_server: LiveServer) -> None:
    owner = new_email()
    httpx.post(
        f"{live_server.url}/api/v1/auth/signup", json={"email": owner, "password": DEFAULT_PASSWORD}
    ).raise_for_status()
    workflow_id = _create_workflow(live_server, _api_token(live_server, owner), "Owner's private workflow")

    sign_up(page)
    response = page.goto(f"/workflows/{workflow_id}")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_text("Owner's private workflow")).to_have_count(0)

    malformed = page.goto("/workflows/not-an-id")
    assert malformed is not None
    assert malformed.status == 404


def test_docs_and_redoc_work_without_internet(page: Page, blocked_requests: list[str]) -> None:
    console_errors: list[str] = []
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page.get_by_text("/api/v1/workflows").first).to_be_attached()

    page.goto("/redoc")
    expect(page.get_by_role("heading", name="Autofy").first).to_be_visible(timeout=20_000)
    assert blocked_requests == []
    # ReDoc's footer shows Redocly's logo from their CDN: the CSP stops it before any request.
    assert [error for error in console_errors if "https://cdn.redoc.ly/" not in error] == []


def test_pages_break_no_rule_of_their_content_security_policy(page: Page) -> None:
    console_errors: list[str] = []
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )

    sign_up(page)
    page.goto("/workflows")

    assert console_errors == []
