"""In-app notifications: what creates them, the API that lists them and marks them read, and the
`notifications` preference, against real workers and a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError

from autofy.config import Settings
from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.notifications.tables import notifications
from autofy.retention.service import RetentionPolicy, prune
from tests.api_fixtures import SignedUpUser, sign_up
from tests.fakes.gmail import FakeGmail
from tests.fakes.telegram import FakeTelegram
from tests.notification_support import create_failing_workflow, run_to_the_end, running_workers, wait_until
from tests.workflows.api import connect, telegram_step


async def _notifications(client: httpx.AsyncClient, user: SignedUpUser, **query: str) -> dict[str, object]:
    response = await client.get("/api/v1/notifications", headers=user.headers, params=query)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_failed_run_notifies_its_owner_who_can_mark_it_read(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings
) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    workflow_id = await create_failing_workflow(client, owner, name="Nightly report")
    async with running_workers(database_url, api_settings):
        execution = await run_to_the_end(client, owner, workflow_id)
    assert execution["execution_status"] == "failed"

    listed = await _notifications(client, owner)
    assert listed["unread"] == 1
    (notification,) = listed["items"]  # type: ignore[misc]
    assert notification["kind"] == "execution_failed"
    assert notification["title"] == "A run of “Nightly report” failed"
    assert "missing" in notification["message"]  # the run's own error
    assert notification["link"] == f"/runs/{execution['id']}"
    assert notification["read_at"] is None
    # Nobody else sees it, counts it or can mark it.
    assert (await _notifications(client, stranger))["items"] == []
    refused = await client.post(f"/api/v1/notifications/{notification['id']}/read", headers=stranger.headers)
    assert refused.status_code == 404

    marked = await client.post(f"/api/v1/notifications/{notification['id']}/read", headers=owner.headers)
    assert marked.status_code == 200
    assert marked.json()["read_at"] is not None
    count = await client.get("/api/v1/notifications/unread-count", headers=owner.headers)
    assert count.json() == {"unread": 0}


async def test_a_completed_run_notifies_nobody(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings
) -> None:
    user = await sign_up(client)
    created = await client.post(
        "/api/v1/workflows",
        headers=user.headers,
        json={
            "name": "Fine",
            "trigger_type": "manual",
            "steps": [
                {
                    "step_type": "action",
                    "service_name": "core",
                    "action_name": "format_text",
                    "configuration": {"operation": "upper", "text": "ok"},
                }
            ],
        },
    )
    async with running_workers(database_url, api_settings):
        execution = await run_to_the_end(client, user, created.json()["id"])
    assert execution["execution_status"] == "completed"
    assert (await _notifications(client, user))["total"] == 0


async def test_mark_all_read_and_the_unread_filter(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings
) -> None:
    user = await sign_up(client)
    first = await create_failing_workflow(client, user, name="First")
    second = await create_failing_workflow(client, user, name="Second")
    async with running_workers(database_url, api_settings):
        await run_to_the_end(client, user, first)
        await run_to_the_end(client, user, second)
    listed = await _notifications(client, user)
    assert [item["title"] for item in listed["items"]] == [  # type: ignore[attr-defined]
        "A run of “Second” failed",
        "A run of “First” failed",
    ]

    marked = await client.post("/api/v1/notifications/read", headers=user.headers)

    assert marked.json() == {"marked": 2}
    assert (await _notifications(client, user, unread="true"))["items"] == []
    assert (await _notifications(client, user))["total"] == 2


async def test_a_revoked_grant_notifies_once(client: httpx.AsyncClient, fake_gmail: FakeGmail) -> None:
    user = await sign_up(client)
    granted = {key: str(value) for key, value in fake_gmail.grant().items()}
    configuration = {"api_base": fake_gmail.url, "token_url": f"{fake_gmail.url}/token"}
    integration = await connect(client, user, "gmail", granted, configuration)
    fake_gmail.revoke()

    for _ in range(2):  # the second test finds it expired still: no news
        tested = await client.post(f"/api/v1/integrations/{integration['id']}/test", headers=user.headers)
        assert tested.json()["status"] == "expired"

    (notification,) = (await _notifications(client, user))["items"]  # type: ignore[misc]
    assert notification["kind"] == "integration_error"
    assert notification["link"] == "/integrations"
    assert "connect it again" in notification["message"]


async def test_credits_nearly_used_up_notify_once_per_crossing(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)

    async def use_credits(used: int, limit: int = 1000) -> None:
        # The engine's bookkeeping writes credits as the service.
        async with database.service_session() as session:
            await session.execute(
                update(tables.profiles)
                .where(tables.profiles.c.id == user.user_id)
                .values(credits_used=used, credits_limit=limit)
            )

    await use_credits(899)
    assert (await _notifications(client, user))["total"] == 0
    await use_credits(900)
    await use_credits(990)  # still past the line: not news
    (notification,) = (await _notifications(client, user))["items"]  # type: ignore[misc]
    assert notification["kind"] == "credits_low"
    assert notification["title"] == "900 of your 1000 credits are used"
    await use_credits(0)  # a new period
    await use_credits(950)
    assert (await _notifications(client, user))["total"] == 2
    # A limit near the integer maximum (operators grant "unlimited" so) is compared without overflow.
    await use_credits(10, limit=2_000_000_000)
    await use_credits(1_900_000_000, limit=2_000_000_000)
    assert (await _notifications(client, user))["total"] == 3


@pytest.mark.parametrize(
    ("preference", "listed", "email_status"),
    [
        (
            {"in_app_on_failure": False, "email_on_failure": True},
            0,
            "skipped",
        ),  # no mail server configured here
        ({"in_app_on_failure": True, "email_on_failure": False}, 1, None),
        ({"in_app_on_failure": False, "email_on_failure": False}, 0, None),
        ("not an object", 1, "skipped"),  # a malformed preference falls back to the defaults
    ],
)
async def test_the_notifications_preference_decides_where_they_go(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    api_settings: Settings,
    preference: object,
    listed: int,
    email_status: str | None,
) -> None:
    user = await sign_up(client)
    saved = await client.put(
        "/api/v1/preferences/notifications", headers=user.headers, json={"value": preference}
    )
    assert saved.status_code == 200, saved.text
    workflow_id = await create_failing_workflow(client, user)
    async with running_workers(database_url, api_settings):
        assert (await run_to_the_end(client, user, workflow_id))["execution_status"] == "failed"
        if email_status == "skipped":
            # The email job runs (and finds no mail server) after the run: wait for its verdict.
            await _wait_for_email_status(database, user.user_id, "skipped")

    assert (await _notifications(client, user))["total"] == listed
    async with database.service_session() as session:
        statuses = (
            await session.scalars(
                text("select email_status from notifications where user_id = :id"), {"id": user.user_id}
            )
        ).all()
    assert statuses == ([email_status] if listed or email_status else [])


async def _wait_for_email_status(database: Database, user_id: uuid.UUID, status: str) -> None:
    async def settled() -> bool:
        async with database.service_session() as session:
            found = await session.scalar(
                text("select email_status from notifications where user_id = :id"), {"id": user_id}
            )
        return bool(found == status)

    await wait_until(settled, what=f"the email status to be {status}")


async def test_users_cannot_create_notifications_or_touch_more_than_read_at(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    async with database.service_session() as session:
        await session.execute(
            update(tables.profiles).where(tables.profiles.c.id == owner.user_id).values(credits_used=950)
        )
    statements = [
        "insert into notifications (user_id, kind, subject_id) values (auth.uid(), 'credits_low', auth.uid())",
        "update notifications set kind = 'execution_failed'",
        "select email_status from notifications",
        "select public.add_notification(auth.uid(), 'credits_low', auth.uid(), '{}'::jsonb)",
    ]
    for statement in statements:
        async with database.user_session(user_claims(owner.user_id, owner.email)) as session:
            with pytest.raises(DBAPIError, match="permission denied"):
                await session.execute(text(statement))
    # Another user's rows are invisible to them, so marking "all" read marks none of the owner's.
    async with database.user_session(user_claims(stranger.user_id, stranger.email)) as session:
        changed = await session.execute(text("update notifications set read_at = now()"))
        assert changed.rowcount == 0  # type: ignore[attr-defined]
    assert (await _notifications(client, owner))["unread"] == 1


async def test_a_run_refused_by_the_service_notifies_the_failure_and_the_integration(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings, fake_telegram: FakeTelegram
) -> None:
    user = await sign_up(client)
    await connect(client, user, "telegram", {"bot_token": "123:revoked"}, {"api_base": fake_telegram.url})
    created = await client.post(
        "/api/v1/workflows",
        headers=user.headers,
        json={"name": "Ping me", "trigger_type": "manual", "steps": [telegram_step()]},
    )
    async with running_workers(database_url, api_settings):
        execution = await run_to_the_end(client, user, created.json()["id"], {"name": "Ada"})

    assert execution["execution_status"] == "failed"
    items: list[dict[str, str]] = (await _notifications(client, user))["items"]  # type: ignore[assignment]
    kinds = {item["kind"]: item for item in items}
    assert set(kinds) == {"execution_failed", "integration_error"}
    assert kinds["integration_error"]["title"] == "Telegram needs attention"
    assert "Unauthorized" in kinds["integration_error"]["message"]


async def test_notifications_past_their_retention_are_pruned(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await sign_up(client)
    now = datetime.now(UTC)
    async with database.service_session() as session:
        for age_days in (100, 10):
            await session.execute(
                insert(notifications).values(
                    user_id=user.user_id,
                    kind="credits_low",
                    subject_id=user.user_id,
                    details={"credits_used": age_days, "credits_limit": 100},
                    created_at=now - timedelta(days=age_days),
                )
            )
    policy = RetentionPolicy(
        free_days=14, pro_days=90, enterprise_days=365, audit_days=30, status_days=7, batch_size=500,
        notification_days=90,
    )  # fmt: skip

    result = await prune(database, policy, now=now)

    assert result.notifications == 1
    (kept,) = (await _notifications(client, user))["items"]  # type: ignore[misc]
    assert kept["title"] == "10 of your 100 credits are used"
