"""Every seed workflow template, end to end, the way a user runs it: connect the services (fake
servers speaking the real APIs) through the API, instantiate the template with its inputs, activate
it, fire its trigger for real (a scheduler tick, a webhook delivery, a manual run), let the real
workers run it, then check the execution and what arrived at the services."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from autofy.connectors.llm.actions.extract import EXTRACTION_TOOL
from autofy.triggers.scheduler import Scheduler
from tests.e2e.conftest import Account
from tests.fakes.gmail import FakeGmail
from tests.fakes.notion import FakeNotion
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from tests.triggers.conftest import FakeClock

pytestmark = pytest.mark.usefixtures("worker")

SAVE_NEW_EMAILS_TO_NOTION = "20000000-0000-4000-8000-000000000001"
EMAIL_SUMMARIES_TO_TELEGRAM = "20000000-0000-4000-8000-000000000002"
DAILY_EMAIL_BRIEFING = "20000000-0000-4000-8000-000000000003"
WEBHOOK_ALERTS_TO_TELEGRAM = "20000000-0000-4000-8000-000000000004"
FLAG_URGENT_SUPPORT_EMAILS = "20000000-0000-4000-8000-000000000005"
EXTRACT_NOTES_INTO_NOTION = "20000000-0000-4000-8000-000000000006"

TEAM_CHAT = -1001234567890
POLL_INTERVAL_SECONDS = 60  # the email templates' trigger_config
TELEGRAM_MESSAGE_LIMIT = 4096


async def next_poll(scheduler: Scheduler, clock: FakeClock) -> None:
    """One scheduler tick when the email workflow's next poll is due: one interval after the
    previous poll, or after the activation, which the API did on the real clock."""
    clock.now = max(clock.now, datetime.now(UTC)) + timedelta(seconds=POLL_INTERVAL_SECONDS)
    await scheduler.tick()


def assert_completed(execution: dict[str, Any], *actions: str) -> None:
    """The run completed, and every step listed (`service/action`, in order) completed."""
    assert execution["execution_status"] == "completed", execution["error_message"]
    results = execution["step_results"]
    assert [f"{result['service_name']}/{result['action_name']}" for result in results] == list(actions)
    assert [result["status"] for result in results] == ["completed"] * len(actions), results
    assert execution["failed_steps"] == 0


def page_title(notion: FakeNotion, page_id: str) -> str:
    properties = notion.pages[page_id]["properties"].values()
    title = next(prop["title"] for prop in properties if prop["type"] == "title")
    return "".join(item["plain_text"] for item in title)


def page_lines(notion: FakeNotion, page_id: str) -> list[tuple[str, str]]:
    """The page's content: (block type, its text) per block."""
    return [
        (block["type"], "".join(item["plain_text"] for item in block[block["type"]].get("rich_text", [])))
        for block in notion.children[page_id]
    ]


def sent_texts(telegram: FakeTelegram) -> list[tuple[str, str]]:
    """(chat id, text) of every message the bot sent."""
    return [
        (str(params["chat_id"]), params["text"])
        for method, params in telegram.sent
        if method == "sendMessage"
    ]


def assert_no_credentials_sent_to_the_model(
    openai: FakeOpenAI, *others: FakeGmail | FakeNotion | FakeTelegram
) -> None:
    """Nothing secret of any integration reached the model: not in a prompt, not in a header
    other than the OpenAI key's own Authorization."""
    secrets = {openai.api_key}
    for fake in others:
        if isinstance(fake, FakeGmail):
            secrets |= {fake.state.client_secret, *fake.state.refresh_tokens, *fake.state.access_tokens}
        else:
            secrets.add(fake.token)
    for request in openai.requests_to("/chat/completions"):
        body = request.body.decode()
        headers = {name: value for name, value in request.headers.items() if name != "authorization"}
        for secret in secrets:
            assert secret not in body
            assert secret not in json.dumps(headers)


def prompt_of(request: dict[str, Any]) -> str:
    """Everything the model was sent, as one text."""
    return "\n".join(str(message.get("content")) for message in request["messages"])


# --- Save new emails to Notion (Gmail → Notion) ------------------------------------------------


async def test_save_new_emails_to_notion(
    account: Account, gmail: FakeGmail, notion: FakeNotion, scheduler: Scheduler, clock: FakeClock
) -> None:
    database_id = notion.add_database("Inbox", {"Name": "title", "Tags": "multi_select"})
    workflow_id = await account.use_template(
        SAVE_NEW_EMAILS_TO_NOTION, {"gmail_query": "subject:invoice", "notion_database_id": database_id}
    )
    gmail.add_message(
        sender="Billing <billing@acme.example>",
        subject="Invoice 2026-11",
        body_text="Amount due: 120 EUR.\nPlease pay by December 1.",
    )
    gmail.add_message(subject="Lunch on Friday?")  # not what the user's search asks for

    await next_poll(scheduler, clock)

    [execution_id] = await account.execution_ids(workflow_id)
    execution = await account.finished(execution_id)
    assert_completed(execution, "notion/create_page")
    assert execution["trigger_data"]["subject"] == "Invoice 2026-11"
    [page_id] = notion.pages
    assert execution["step_results"][0]["output"]["id"] == page_id
    assert notion.pages[page_id]["parent"] == {"type": "database_id", "database_id": database_id}
    assert page_title(notion, page_id) == "Invoice 2026-11"
    assert page_lines(notion, page_id) == [
        ("paragraph", f"From: Billing <billing@acme.example>\nDate: {execution['trigger_data']['date']}"),
        ("paragraph", "Amount due: 120 EUR.\nPlease pay by December 1."),
    ]


# --- Email summaries to Telegram (Gmail → AI → Telegram) ----------------------------------------


async def test_email_summaries_to_telegram(
    account: Account,
    gmail: FakeGmail,
    openai: FakeOpenAI,
    telegram: FakeTelegram,
    scheduler: Scheduler,
    clock: FakeClock,
) -> None:
    telegram.add_chat(TEAM_CHAT, kind="group", title="Team")
    workflow_id = await account.use_template(
        EMAIL_SUMMARIES_TO_TELEGRAM, {"telegram_chat_id": str(TEAM_CHAT)}
    )
    body = "Hi! Could we move Wednesday's design review to Thursday at 10? The mockups are late."
    gmail.add_message(sender="Ada <ada@example.com>", subject="Design review", body_text=body)
    summary = "Ada asks to move the design review to Thursday 10:00 because the mockups are late."
    openai.reply_text(summary)

    await next_poll(scheduler, clock)

    [execution_id] = await account.execution_ids(workflow_id)
    execution = await account.finished(execution_id)
    assert_completed(execution, "openai/summarize", "telegram/send_message")
    assert execution["step_results"][0]["output"]["text"] == summary
    assert sent_texts(telegram) == [(str(TEAM_CHAT), f"Design review\n\n{summary}")]
    [request] = openai.chat_requests()
    assert request["model"] == "gpt-4o-mini"
    # The subject goes with the body: it is context, and the text when an email has none.
    assert f"Subject: Design review\n\n{body}" in prompt_of(request)
    assert_no_credentials_sent_to_the_model(openai, gmail, telegram)


# --- Daily email briefing (schedule → Gmail search → AI → Notion + Telegram) --------------------


def next_slot(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first daily slot at `at` (wall clock in `zone`) after `after`."""
    local = after.astimezone(zone)
    slot = datetime.combine(local.date(), at, tzinfo=zone)
    return slot if slot > local else datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)


async def test_daily_email_briefing(
    account: Account,
    gmail: FakeGmail,
    openai: FakeOpenAI,
    notion: FakeNotion,
    telegram: FakeTelegram,
    scheduler: Scheduler,
    clock: FakeClock,
) -> None:
    telegram.add_chat(TEAM_CHAT, kind="group", title="Team")
    database_id = notion.add_database("Briefings", {"Name": "title"})
    gmail.add_message(
        sender="Grace <grace@example.com>", subject="Contract renewal", body_text="Sign by Friday?"
    )
    gmail.add_message(sender="Hosting <billing@host.example>", subject="Server bill", body_text="42 EUR due.")
    gmail.add_message(subject="Last week's newsletter", labels=("INBOX",))  # already read
    paris = ZoneInfo("Europe/Paris")
    workflow_id = await account.use_template(
        DAILY_EMAIL_BRIEFING,
        {
            "briefing_time": "07:30",
            "timezone": "Europe/Paris",
            "notion_database_id": database_id,
            "telegram_chat_id": str(TEAM_CHAT),
        },
    )
    briefing = "Answer Grace about the contract renewal today (sign by Friday). The server bill is 42 EUR."
    openai.reply_text(briefing)
    slot = next_slot(datetime.now(UTC), time(7, 30), paris)  # the first after the activation

    # A second before the slot the scheduler prepares its run, and starts it only at the slot.
    clock.now = slot - timedelta(seconds=1)
    tick = asyncio.create_task(scheduler.tick())
    await clock.wait_for_sleepers()
    assert await account.execution_ids(workflow_id) == []
    clock.advance(seconds=1)
    await tick

    [execution_id] = await account.execution_ids(workflow_id)
    execution = await account.finished(execution_id)
    assert_completed(
        execution, "gmail/search_emails", "openai/prompt", "notion/create_page", "telegram/send_message"
    )
    assert execution["trigger_data"]["scheduled_for"] == slot.isoformat()
    assert execution["step_results"][0]["output"]["count"] == 2
    [request] = openai.chat_requests()
    prompt = prompt_of(request)
    assert "2 unread emails" in prompt
    assert "From Grace <grace@example.com>: Contract renewal" in prompt
    assert "From Hosting <billing@host.example>: Server bill" in prompt
    assert "newsletter" not in prompt
    [page_id] = notion.pages
    assert notion.pages[page_id]["parent"]["database_id"] == database_id
    assert page_title(notion, page_id) == f"Briefing {slot.date().isoformat()}"
    assert page_lines(notion, page_id) == [("paragraph", briefing)]
    assert sent_texts(telegram) == [(str(TEAM_CHAT), briefing)]
    assert_no_credentials_sent_to_the_model(openai, gmail, notion, telegram)

    # "Run now" has no slot: the briefing is titled with the day of the run.
    openai.reply_text("Nothing needs an answer today.")
    started = await account.post(f"/api/v1/workflows/{workflow_id}/run")
    by_hand = await account.finished(started["execution_id"])
    assert_completed(
        by_hand, "gmail/search_emails", "openai/prompt", "notion/create_page", "telegram/send_message"
    )
    page_id = by_hand["step_results"][2]["output"]["id"]
    assert page_title(notion, page_id) == f"Briefing {datetime.now(UTC).date().isoformat()}"


# --- Webhook alerts to Telegram ------------------------------------------------------------------


async def test_webhook_alerts_to_telegram(
    account: Account, client: httpx.AsyncClient, telegram: FakeTelegram
) -> None:
    telegram.add_chat(TEAM_CHAT, kind="group", title="Ops")
    workflow_id = await account.use_template(WEBHOOK_ALERTS_TO_TELEGRAM, {"telegram_chat_id": str(TEAM_CHAT)})
    webhook = await account.get(f"/api/v1/workflows/{workflow_id}/webhook")
    hook = urlsplit(webhook["url"]).path

    deliveries: list[dict[str, Any]] = [
        # What monitoring and CI tools send: JSON, a form, or plain text; no Autofy credentials.
        {"json": {"title": "Disk almost full", "message": "db-1: 95% used"}},
        {"data": {"title": "Deploy failed", "message": "build #812, stage test"}},
        {"content": b"backup finished with 2 warnings", "headers": {"Content-Type": "text/plain"}},
        # A whole log: longer than a Telegram message may be, so the alert carries its start.
        {"json": {"title": "Nightly job failed", "message": "error: disk quota exceeded\n" * 400}},
    ]
    for delivery in deliveries:
        response = await client.post(hook, **delivery)
        assert response.status_code == 202, response.text
        execution = await account.finished(response.json()["execution_id"])
        assert_completed(execution, "telegram/send_message")

    *short_alerts, (chat, long_alert) = sent_texts(telegram)
    assert short_alerts == [
        (str(TEAM_CHAT), "Alert: Disk almost full\ndb-1: 95% used"),
        (str(TEAM_CHAT), "Alert: Deploy failed\nbuild #812, stage test"),
        (str(TEAM_CHAT), "Alert: webhook received\nbackup finished with 2 warnings"),
    ]
    assert chat == str(TEAM_CHAT)
    assert long_alert.startswith("Alert: Nightly job failed\nerror: disk quota exceeded\n")
    assert long_alert.endswith("...")
    assert len(long_alert) <= TELEGRAM_MESSAGE_LIMIT


# --- Flag urgent support emails (Gmail → AI classify → Telegram only when urgent) ---------------


async def test_flag_urgent_support_emails(
    account: Account,
    gmail: FakeGmail,
    openai: FakeOpenAI,
    telegram: FakeTelegram,
    scheduler: Scheduler,
    clock: FakeClock,
) -> None:
    telegram.add_chat(TEAM_CHAT, kind="group", title="Support")
    workflow_id = await account.use_template(
        FLAG_URGENT_SUPPORT_EMAILS,
        {"gmail_query": "to:support@acme.example", "telegram_chat_id": str(TEAM_CHAT)},
    )

    gmail.add_message(
        sender="Linus <linus@shop.example>",
        to="support@acme.example",
        subject="Checkout is down",
        body_text="Since 9:00 no customer can pay. We are losing orders.",
    )
    openai.reply_text("urgent")
    await next_poll(scheduler, clock)
    [urgent_id] = await account.execution_ids(workflow_id)
    urgent = await account.finished(urgent_id)

    gmail.add_message(
        to="support@acme.example", subject="Changing my avatar", body_text="Where do I change my picture?"
    )
    gmail.add_message(to="sales@acme.example", subject="Volume discount?")  # not a support email
    openai.reply_text("normal")
    await next_poll(scheduler, clock)
    [normal_id] = [i for i in await account.execution_ids(workflow_id) if i != urgent_id]
    normal = await account.finished(normal_id)

    assert_completed(urgent, "openai/classify", "telegram/send_message")
    assert urgent["step_results"][0]["output"]["label"] == "urgent"
    snippet = urgent["trigger_data"]["snippet"]
    assert sent_texts(telegram) == [
        (
            str(TEAM_CHAT),
            f"Urgent support email from Linus <linus@shop.example>: Checkout is down\n\n{snippet}",
        )
    ]
    assert "no customer can pay" in snippet
    # Not urgent: the alert step's condition skips it, and the run still completes.
    assert normal["execution_status"] == "completed", normal["error_message"]
    classified, alert = normal["step_results"]
    assert (classified["status"], classified["output"]["label"]) == ("completed", "normal")
    assert (alert["action_name"], alert["status"]) == ("send_message", "skipped")
    assert "normal" in alert["output"]["reason"], alert["output"]
    assert len(telegram.sent) == 1
    first, second = openai.chat_requests()
    assert "Checkout is down" in prompt_of(first)
    assert "Since 9:00 no customer can pay." in prompt_of(first)
    assert "Where do I change my picture?" in prompt_of(second)
    assert_no_credentials_sent_to_the_model(openai, gmail, telegram)


# --- Extract notes into Notion (manual run → AI extract → Notion) -------------------------------


async def test_extract_notes_into_notion(account: Account, openai: FakeOpenAI, notion: FakeNotion) -> None:
    database_id = notion.add_database("Meeting notes", {"Name": "title"})
    workflow_id = await account.use_template(EXTRACT_NOTES_INTO_NOTION, {"notion_database_id": database_id})
    notes = (
        "Launch sync, Tuesday. Ada will draft the announcement. Grace books the venue. Launch moves to May 4."
    )
    extracted = {
        "title": "Launch sync",
        "summary": "The launch moves to May 4. The announcement and the venue are being handled.",
        "action_items": ["Ada: draft the announcement", "Grace: book the venue"],
    }
    openai.reply_tool_call(EXTRACTION_TOOL, extracted)

    started = await account.post(f"/api/v1/workflows/{workflow_id}/run", {"text": notes})

    execution = await account.finished(started["execution_id"])
    assert_completed(execution, "openai/extract", "notion/create_page")
    assert execution["step_results"][0]["output"]["data"] == extracted
    [page_id] = notion.pages
    assert notion.pages[page_id]["parent"]["database_id"] == database_id
    assert page_title(notion, page_id) == "Launch sync"
    assert page_lines(notion, page_id) == [
        ("paragraph", extracted["summary"]),
        ("paragraph", "Action items:"),
        ("bulleted_list_item", "Ada: draft the announcement"),
        ("bulleted_list_item", "Grace: book the venue"),
    ]
    [request] = openai.chat_requests()
    assert notes in prompt_of(request)
    assert_no_credentials_sent_to_the_model(openai, notion)
