"""Notification emails, sent by the workers to a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text

from autofy.config import Settings
from autofy.db.engine import Database
from autofy.notifications.mail_server import parse_smtp_url
from tests.api_fixtures import api_settings_for, sign_up
from tests.notification_support import (
    XSS_NAME,
    Inbox,
    create_failing_workflow,
    run_to_the_end,
    running_workers,
    wait_until,
)

SENDER = "Autofy <autofy@example.com>"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_settings(database_url: str, inbox: Inbox) -> Settings:
    return api_settings_for(database_url, smtp_url=inbox.url, mail_from=SENDER)


async def _email_status(database: Database, user_id: uuid.UUID) -> list[str | None]:
    async with database.service_session() as session:
        found = await session.scalars(
            text("select email_status from notifications where user_id = :id order by created_at"),
            {"id": user_id},
        )
        return list(found)


async def test_a_failed_run_sends_one_email_and_repeats_within_the_hour_send_none(
    client: httpx.AsyncClient, database: Database, database_url: str, api_settings: Settings, inbox: Inbox
) -> None:
    user = await sign_up(client)
    workflow_id = await create_failing_workflow(client, user, name=XSS_NAME)
    async with running_workers(database_url, api_settings):
        first = await run_to_the_end(client, user, workflow_id)
        await wait_until(lambda: inbox.messages, what="the first email")
        second = await run_to_the_end(client, user, workflow_id)

    assert (first["execution_status"], second["execution_status"]) == ("failed", "failed")
    assert (await client.get("/api/v1/notifications", headers=user.headers)).json()["total"] == 2
    assert await _email_status(database, user.user_id) == ["sent", "batched"]
    (email,) = inbox.messages
    assert email["To"] == user.email
    assert email["From"] == SENDER
    # Plain text only: nothing in it is ever read as markup, and the subject stays one header line.
    assert email.get_content_type() == "text/plain"
    assert email["Subject"] == f"Autofy: A run of “{XSS_NAME}” failed"
    body = email.get_content()
    assert f"http://autofy.test/runs/{first['id']}" in body
    assert "missing" in body
    assert "not emailed" in body  # says that repeats within the hour are batched


async def test_a_workflow_name_cannot_inject_email_headers(
    client: httpx.AsyncClient, database_url: str, api_settings: Settings, inbox: Inbox
) -> None:
    user = await sign_up(client)
    workflow_id = await create_failing_workflow(client, user, name="Report\r\nBcc: victim@example.com")
    async with running_workers(database_url, api_settings):
        await run_to_the_end(client, user, workflow_id)
        (email,) = await wait_until(lambda: inbox.messages, what="the email")
    assert email["Bcc"] is None
    assert email["Subject"] == "Autofy: A run of “Report Bcc: victim@example.com” failed"


async def test_a_mail_server_that_is_down_fails_no_run_and_the_email_is_retried(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    api_settings: Settings,
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await sign_up(client)
    workflow_id = await create_failing_workflow(client, user)
    inbox.stop()
    async with running_workers(database_url, api_settings):
        execution = await run_to_the_end(client, user, workflow_id)
        assert execution["execution_status"] == "failed"
        assert "missing" in execution["error_message"]

        async def retry_scheduled() -> bool:
            async with database.service_session() as session:
                return bool(
                    await session.scalar(
                        text(
                            "select exists (select from pgqueuer where entrypoint = "
                            "'autofy.send_notification_email' and status = 'queued' and attempts = 1 "
                            "and execute_after > now())"
                        )
                    )
                )

        await wait_until(retry_scheduled, what="the email job to be scheduled again")
        assert inbox.messages == []
        assert "not sent (SMTPConnectError" in caplog.text  # logged as a warning, with its retry
        assert "retrying in 30 s" in caplog.text
        # The server is back; bring the retry forward instead of waiting out its backoff.
        inbox.start()
        async with database.service_session() as session:
            await session.execute(
                text(
                    "update pgqueuer set execute_after = now() "
                    "where entrypoint = 'autofy.send_notification_email'"
                )
            )
        await wait_until(lambda: inbox.messages, what="the retried email")
    assert await _email_status(database, user.user_id) == ["sent"]


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "start_tls", "username", "password"),
    [
        ("smtp://relay.internal", "relay.internal", 587, False, None, None, None),
        ("smtp+starttls://me%40x.com:p%3Ass@mail.example.com:2525", "mail.example.com", 2525, False, True,
         "me@x.com", "p:ss"),
        ("smtps://u:p@[2001:db8::1]", "2001:db8::1", 465, True, False, "u", "p"),
    ],
)  # fmt: skip
def test_smtp_urls_name_host_port_and_tls(
    url: str,
    host: str,
    port: int,
    tls: bool,
    start_tls: bool | None,
    username: str | None,
    password: str | None,
) -> None:
    server = parse_smtp_url(url)
    assert (server.host, server.port, server.use_tls, server.start_tls) == (host, port, tls, start_tls)
    assert (server.username, server.password) == (username, password)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"smtp_url": "https://mail.example.com"}, "must start with smtp://"),
        ({"smtp_url": "smtp://mail_server:25"}, "valid host"),
        ({"smtp_url": "smtp://u:secret-password@mail.example.com:70000"}, "port"),
        ({"smtp_url": "smtp://mail.example.com/inbox"}, "no path"),
        ({"mail_from": "Autofy <not-an-address>"}, "sender must be an email address"),
        ({"mail_from": "a@example.com\r\nBcc: b@example.com"}, "line break"),
    ],
)
def test_bad_mail_settings_are_refused_at_start_without_echoing_secrets(
    database_url: str, settings: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        api_settings_for(database_url, **settings)
    assert problem in str(refused.value)
    assert "secret-password" not in str(refused.value)
