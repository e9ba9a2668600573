"""The account pages' forms in-process (no browser): what each saves, and what each refuses."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from autofy.audit.schemas import AuditLog
from autofy.db.engine import Database
from autofy.web.pages.audit import describe
from autofy.web.pages.settings import safe_avatar
from tests.api_fixtures import BASE_URL, DEFAULT_PASSWORD
from tests.auth.helpers import audit_rows

ORIGIN = {"Origin": BASE_URL}


async def _csrf(client: httpx.AsyncClient, path: str = "/account") -> str:
    page = await client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return token.group(1)


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, object], **headers: str
) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await _csrf(client), **data}, headers=ORIGIN | headers)


@pytest.fixture
async def signed_in(client: httpx.AsyncClient) -> str:
    """A browser-like client signed in through the sign-up form; the account's email."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/signup",
        data={"csrf_token": await _csrf(client, "/signup"), "email": email, "password": DEFAULT_PASSWORD},
        headers=ORIGIN,
    )
    assert response.status_code == 303
    return email


async def _preference(client: httpx.AsyncClient, email: str, key: str) -> object:
    tokens = await client.post("/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD})
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    return (await client.get(f"/api/v1/preferences/{key}", headers=headers)).json()["value"]


async def test_the_profile_saves_and_its_avatar_origin_alone_may_serve_images(
    client: httpx.AsyncClient, signed_in: str
) -> None:
    saved = await _post(
        client,
        "/account/profile",
        {"full_name": "Ada", "avatar_url": "https://img.example.com/ada.png", "timezone": "Europe/Paris"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/account?saved=profile"

    page = await client.get("/account?saved=profile")

    assert "Your profile is saved." in page.text
    assert '<img class="avatar" src="https://img.example.com/ada.png"' in page.text
    assert "<option selected>Europe/Paris</option>" in page.text
    assert "img-src 'self' data: https://img.example.com;" in page.headers["content-security-policy"]
    # Other pages keep the strict policy.
    assert "img.example.com" not in (await client.get("/usage")).headers["content-security-policy"]


@pytest.mark.parametrize(
    "avatar_url", ["javascript:alert(1)", "data:image/svg+xml,<svg onload=alert(1)>", "//evil.example/x.png"]
)
async def test_an_avatar_that_is_not_an_http_address_is_refused_on_its_field(
    client: httpx.AsyncClient, signed_in: str, avatar_url: str
) -> None:
    response = await _post(client, "/account/profile", {"full_name": "Ada", "avatar_url": avatar_url})

    assert response.status_code == 422
    assert 'id="error-avatar_url"' in response.text
    assert "starts with https://" in response.text
    assert '<img class="avatar"' not in response.text
    assert (await client.get("/account")).text.count("No name yet") == 1


def test_only_plain_http_addresses_are_shown_as_avatars() -> None:
    avatar = safe_avatar("https://a.example:8443/me.png")
    assert avatar is not None
    assert avatar.origin == "https://a.example:8443"
    for url in ("javascript:alert(1)", "https://a.example;script-src *", "ftp://a.example/x", "", None):
        assert safe_avatar(url) is None


async def test_the_theme_saves_for_htmx_with_a_short_answer(
    client: httpx.AsyncClient, signed_in: str
) -> None:
    response = await _post(client, "/account/theme", {"theme": "dark"}, **{"HX-Request": "true"})

    assert response.status_code == 200
    assert response.text.strip() == "Theme saved: dark."
    assert '<html lang="en" data-theme="dark">' in (await client.get("/account")).text
    assert (await _post(client, "/account/theme", {"theme": "neon"})).status_code == 422


async def test_notification_settings_store_every_key_in_the_seed_shape(
    client: httpx.AsyncClient, signed_in: str
) -> None:
    response = await _post(
        client, "/account/notifications", {"in_app_on_failure": "on", "email_on_integration_error": "on"}
    )

    assert response.status_code == 303
    stored = await _preference(client, signed_in, "notifications")
    assert stored == {
        "in_app_on_failure": True,
        "email_on_failure": False,
        "in_app_on_integration_error": False,
        "email_on_integration_error": True,
        "in_app_on_credits_low": False,
        "email_on_credits_low": False,
    }


async def test_ai_defaults_take_a_listed_service_and_any_model(
    client: httpx.AsyncClient, signed_in: str
) -> None:
    refused = await _post(client, "/account/ai", {"ai_provider": "skynet", "ai_model": "x"})
    saved = await _post(client, "/account/ai", {"ai_provider": "anthropic", "ai_model": " claude-x "})

    assert refused.status_code == 422
    assert "Choose one of the listed AI services." in refused.text
    assert saved.status_code == 303
    assert await _preference(client, signed_in, "default_ai_provider") == "anthropic"
    assert await _preference(client, signed_in, "default_ai_model") == "claude-x"


async def test_the_password_form_names_what_is_wrong(
    client: httpx.AsyncClient, signed_in: str, database: Database
) -> None:
    wrong = await _post(
        client, "/account/password", {"current_password": "nope", "new_password": "Fresh-Pass-2027"}
    )
    weak = await _post(
        client, "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": "short"}
    )
    changed = await _post(
        client, "/account/password", {"current_password": DEFAULT_PASSWORD, "new_password": "Fresh-Pass-2027"}
    )

    blank = await _post(client, "/account/password", {"current_password": "", "new_password": "x" * 1025})
    assert blank.status_code == 422
    assert "Enter your current password." in blank.text
    assert "at most 1024 characters" in blank.text
    assert wrong.status_code == 422
    assert "This is not your current password." in wrong.text
    # The failure is recorded even though the form was answered with an error.
    assert len(await audit_rows(database, action="auth.sign_in_failed")) == 1
    assert weak.status_code == 422
    assert "at least 10 characters" in weak.text
    assert changed.headers["location"] == "/account?saved=password"
    assert (await client.get("/account")).status_code == 200  # this session stays signed in


async def test_a_new_key_is_shown_once_and_never_cached(client: httpx.AsyncClient, signed_in: str) -> None:
    created = await _post(
        client, "/api-keys", {"name": "ci", "permissions": ["read", "write"], "expiry": "30"}
    )

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    key = re.search(r'value="(afy_[^"]+)"', created.text)
    assert key is not None
    listing = await client.get("/api-keys")
    assert key.group(1) not in listing.text
    assert "read, write" in listing.text
    duplicate = await _post(client, "/api-keys", {"name": "ci", "permissions": ["read"], "expiry": "30"})
    assert duplicate.status_code == 409
    assert "Choose a name none of your keys has." in duplicate.text
    none_ticked = await _post(client, "/api-keys", {"name": "other", "expiry": "never"})
    assert none_ticked.status_code == 422
    assert "Tick at least one permission." in none_ticked.text


def _entry(action: str, details: dict[str, object], ip_address: str | None = "203.0.113.7") -> AuditLog:
    return AuditLog(
        id=uuid.uuid4(),
        action=action,
        resource_type=action.split(".")[0],
        resource_id=None,
        details=details,
        ip_address=ip_address,
        user_agent=None,
        created_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
    )


def test_audit_entries_read_as_sentences() -> None:
    assert describe(_entry("api_key.revoke", {"name": "ci"})) == "API key ci revoked from 203.0.113.7"
    assert describe(_entry("api_key.revoke", {}, None)) == "API key revoked"
    assert describe(_entry("auth.sign_in_failed", {"reason": "invalid_credentials"}, None)) == (
        "Sign-in failed: wrong email or password"
    )
    assert (
        describe(_entry("workflow.create", {"name": "{0.__class__}"}, None))
        == "Workflow {0.__class__} created"
    )
    assert describe(_entry("future.thing_done", {}, None)) == "Future: thing done"


async def test_the_audit_page_pages_and_filters_by_date(client: httpx.AsyncClient, signed_in: str) -> None:
    tokens = await client.post("/api/v1/auth/signin", json={"email": signed_in, "password": DEFAULT_PASSWORD})
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    for number in range(30):
        await client.put(f"/api/v1/preferences/p{number}", json={"value": number}, headers=headers)

    first = await client.get("/audit")
    second = await client.get("/audit?page=2")
    today = datetime.now(UTC).date()
    tomorrow = await client.get(f"/audit?since={today.replace(year=today.year + 1).isoformat()}")
    nonsense = await client.get("/audit?since=yesterday&until=")

    # 30 preferences, the sign-up and the API sign-in: 32 entries, 25 a page.
    assert first.text.count('class="audit-entry"') == 25
    assert "1–25 of 32" in first.text
    assert 'href="/audit?page=2" rel="next"' in first.text
    assert second.text.count('class="audit-entry"') == 7
    assert "Preference p0 set" in second.text
    assert 'rel="next"' not in second.text
    assert "Nothing matches these filters" in tomorrow.text
    assert nonsense.status_code == 422
    assert "Enter a date like 2026-12-31." in nonsense.text
