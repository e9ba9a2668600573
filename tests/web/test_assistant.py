"""The assistant's page, in a browser, against a real `autofy serve` and the fake LLM and Telegram
servers: a conversation that streams a proposal, its preview, connecting the missing integration
from it and activating it; model output that tries to inject markup; search; the states without
an AI provider and with a failing one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect
from sqlalchemy import update

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import DEFAULT_PASSWORD
from tests.fakes.llm_script import ScriptedToolCall
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram
from tests.web.browser import assert_accessible, run_async, screenshot, sign_up
from tests.web.conftest import LiveServer

CHAT_ID = 5551234
REQUEST = "When our monitoring calls a webhook, send the alert to me on Telegram."
XSS_ANSWER = (
    "Here is what I found:\n\n<script>alert('script')</script>\n\n"
    '"><img src=x onerror=alert(1)>\n\n'
    "[click me](javascript:alert(document.cookie)) and [me too](JAVASCRIPT&#58;alert(2))\n\n"
    "**Bold** stays markdown, and [the docs](https://example.com/docs) stay a link."
)
XSS_NAME = '"><img src=x onerror=alert(3)><script>alert(4)</script>'


def alert_to_telegram() -> dict[str, Any]:
    return {
        "name": "Monitoring alerts to Telegram",
        "description": "Send each monitoring alert to Ada on Telegram.",
        "trigger_type": "webhook",
        "trigger_config": {},
        "steps": [
            {
                "step_order": 1,
                "step_type": "action",
                "service_name": "telegram",
                "action_name": "send_message",
                "configuration": {"chat_id": str(CHAT_ID), "text": "Alert: {{ trigger.body.title }}"},
            }
        ],
    }


class Account:
    """A user signed in in the browser, with an API client of their own for arrangements."""

    def __init__(self, page: Page, live_server: LiveServer) -> None:
        email = sign_up(page)
        token = httpx.post(
            f"{live_server.url}/api/v1/auth/signin", json={"email": email, "password": DEFAULT_PASSWORD}
        ).json()["access_token"]
        self.email = email
        self.api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})

    def connect_openai(self, fake: FakeOpenAI) -> None:
        response = self.api.post(
            "/api/v1/integrations",
            json={
                "service_name": "openai",
                "credentials": {"api_key": fake.api_key},
                "configuration": {"api_base": fake.api_base},
            },
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def account(page: Page, live_server: LiveServer) -> Iterator[Account]:
    """A new user signed in in the page; their API client is closed even when the test fails."""
    signed_in = Account(page, live_server)
    yield signed_in
    signed_in.api.close()


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (none should)."""
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def watch_stream(page: Page) -> None:
    """Count the pieces of the answer's text and the activity lines shown while it streams."""
    page.evaluate(
        """() => {
          window.streamed = {tokens: 0, activity: []};
          new MutationObserver(records => {
            for (const record of records) {
              const target = record.target;
              if (!target.closest || !target.closest('.chat-streaming')) continue;
              for (const node of record.addedNodes) {
                if (target.matches('.chat-bubble') && node.nodeType === Node.TEXT_NODE) {
                  window.streamed.tokens += 1;
                }
                if (node.nodeName === 'LI') window.streamed.activity.push(node.textContent);
              }
            }
          }).observe(document.getElementById('chat-main'), {childList: true, subtree: true});
        }"""
    )


def assert_inert(page: Page, dialogs: list[str]) -> None:
    assert dialogs == []
    assert page.locator("main script, main img, main [onerror]").count() == 0
    assert page.locator("a[href^='javascript' i]").count() == 0


def test_a_conversation_proposes_a_workflow_that_is_connected_and_activated_from_its_preview(
    page: Page,
    account: Account,
    live_server: LiveServer,
    fake_openai: FakeOpenAI,
    fake_telegram: FakeTelegram,
    dialogs: list[str],
) -> None:
    account.connect_openai(fake_openai)
    page.goto("/assistant")
    expect(page.get_by_role("heading", name="New conversation")).to_be_visible()
    expect(page.get_by_text("No AI provider connected")).to_have_count(0)
    expect(page.locator("#chat-credits")).to_contain_text("1000 credits left")
    assert_accessible(page)

    fake_openai.reply_tool_calls(
        [
            ScriptedToolCall("search_catalog", {"query": "telegram send message"}),
            ScriptedToolCall("list_integrations", {}),
        ]
    )
    fake_openai.reply_tool_call("create_workflow", alert_to_telegram())
    fake_openai.reply_text(
        "Done: the draft **Monitoring alerts to Telegram** sends each alert to your chat. "
        "Connect Telegram, then activate it."
    )
    # The first two model calls answer after a pause: the page must show the first call's tool
    # lines while the second is still pending, before any word of the answer.
    fake_openai.slow(1.0, times=2, path_contains="chat/completions")
    watch_stream(page)
    send(page, REQUEST)
    page.wait_for_function(
        """() => {
          const answer = document.querySelector('.chat-streaming');
          return answer !== null && answer.querySelector('.chat-activity li') !== null
            && answer.querySelector('.chat-bubble').textContent === '';
        }"""
    )

    preview = page.locator(".wf-preview")
    expect(preview.get_by_role("heading", name="Monitoring alerts to Telegram")).to_be_visible()
    streamed = page.evaluate("window.streamed")
    assert streamed["tokens"] > 1, "the answer appeared at once instead of streaming"
    assert streamed["activity"][:3] == [
        "Searched the catalog for “telegram send message”",
        "Checked your connected services",
        "Validated the proposal “Monitoring alerts to Telegram”",
    ]
    # The saved turn, as the server renders it: markdown, activity, credits, the new session.
    answer = page.locator(".chat-assistant").last
    expect(answer.locator(".chat-markdown strong")).to_have_text("Monitoring alerts to Telegram")
    expect(answer.locator(".chat-activity li")).to_have_count(3)
    expect(answer.locator(".chat-meta")).to_contain_text(re.compile(r"\d+ credits? · gpt-4o-mini"))
    expect(page.locator("#chat-credits")).not_to_contain_text("1000 credits left")
    expect(page).to_have_url(re.compile(r"/assistant/[0-9a-f-]{36}$"))
    expect(page.locator("#chat-sidebar [aria-current=page]")).to_contain_text("When our monitoring calls")
    # The preview: trigger and step cards, and what is still missing.
    expect(preview.locator(".wf-trigger .wf-title")).to_have_text("When a webhook is called")
    expect(preview.locator(".wf-card").nth(1).locator(".wf-title")).to_have_text("Send message")
    expect(preview.locator(".wf-state-needs")).to_contain_text("Connect Telegram")
    expect(preview.get_by_role("link", name="Open in the builder")).to_have_attribute(
        "href", re.compile(r"^/workflows/[0-9a-f-]{36}$")
    )
    expect(preview.get_by_role("link", name="Integrations")).to_have_attribute("href", "/integrations")
    assert_accessible(page)
    screenshot(page, "assistant", phone=True)

    # Activation is refused while Telegram is missing, and the page says why.
    preview.get_by_role("button", name="Activate").click()
    expect(preview.get_by_role("alert")).to_contain_text("cannot be activated")
    expect(preview.get_by_role("alert")).to_contain_text("Connect telegram first")

    # Connect Telegram from the preview, against the fake Telegram server.
    preview.get_by_text("Connect Telegram here").click()
    preview.get_by_label("Bot token").fill("7012345678:wrong-token-for-the-test_0123456789abc")
    preview.get_by_label("API base URL (optional)").fill(fake_telegram.url)
    preview.get_by_role("button", name="Connect and test Telegram").click()
    expect(preview.get_by_role("alert")).to_contain_text("Telegram is not connected yet")
    assert_accessible(page)
    preview.get_by_label("Bot token").fill(fake_telegram.token)
    preview.get_by_label("API base URL (optional)").fill(fake_telegram.url)
    preview.get_by_role("button", name="Connect and test Telegram").click()
    expect(page.get_by_text("Telegram is connected.")).to_be_visible()
    expect(preview.locator(".wf-state-ready")).to_have_text("Valid: ready to activate.")
    assert fake_telegram.requests_to("/getMe"), "the connection was not tested against Telegram"

    preview.get_by_role("button", name="Activate").click()
    expect(preview.locator(".badge")).to_have_text("active")
    expect(preview.locator(".wf-state-ready")).to_contain_text("Active")
    workflow_id = str(preview.get_attribute("id")).removeprefix("workflow-")
    assert account.api.get(f"/api/v1/workflows/{workflow_id}").json()["status"] == "active"
    assert_accessible(page)

    # Search finds the messages, highlights the words, and leads back into the conversation.
    page.get_by_label("Search conversations").fill("telegram alerts")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Messages matching “telegram alerts”")).to_be_visible()
    first = page.locator(".chat-result").first
    expect(first.locator("mark").first).to_have_text(re.compile("^(telegram|alerts?)$", re.IGNORECASE))
    assert_accessible(page)
    screenshot(page, "assistant-search")
    first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/assistant/[0-9a-f-]{36}#message-[0-9a-f-]{36}$"))
    expect(page.locator(".wf-preview")).to_be_visible()

    # Model output that tries to inject markup stays text; markdown still renders.
    fake_openai.reply_text(XSS_ANSWER)
    send(page, "Anything else?")
    answer = page.locator(".chat-assistant").last
    expect(answer.locator(".chat-markdown")).to_contain_text("<script>alert('script')</script>")
    expect(answer.locator(".chat-markdown")).to_contain_text('"><img src=x onerror=alert(1)>')
    expect(answer.locator(".chat-markdown")).to_contain_text("[click me](javascript:alert(document.cookie))")
    expect(answer.locator(".chat-markdown a")).to_have_count(1)
    expect(answer.get_by_role("link", name="the docs")).to_have_attribute("href", "https://example.com/docs")
    expect(answer.locator(".chat-markdown strong")).to_have_text("Bold")
    assert_inert(page, dialogs)

    # A hostile conversation name is text in the header and the list.
    page.get_by_text("Rename or delete").click()
    page.get_by_label("Name", exact=True).fill(XSS_NAME)
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", level=2, name=XSS_NAME)).to_be_visible()
    expect(page.locator("#chat-sidebar [aria-current=page]")).to_contain_text(XSS_NAME)
    assert_inert(page, dialogs)

    # Search results show hostile text as text, highlighted.
    page.goto("/assistant/search?q=img+onerror")
    expect(page.locator(".chat-result")).not_to_have_count(0)
    expect(page.locator(".chat-result mark").first).to_have_text(re.compile("img|onerror"))
    assert_inert(page, dialogs)
    page.locator(".chat-result a").first.click()
    expect(page).to_have_url(re.compile(r"/assistant/[0-9a-f-]{36}#message-[0-9a-f-]{36}$"))

    # Delete the conversation: gone from the list; the workflow it drafted stays.
    page.get_by_text("Rename or delete").click()
    page.get_by_role("button", name="Delete this conversation").click()
    expect(page).to_have_url(re.compile(r"/assistant$"))
    expect(page.locator(".chat-sessions")).to_have_count(0)
    assert account.api.get(f"/api/v1/workflows/{workflow_id}").json()["status"] == "active"


def test_without_an_ai_provider_the_page_says_so_and_offers_templates(
    page: Page, account: Account, browser: Browser, live_server: LiveServer
) -> None:
    page.goto("/assistant")
    notice = page.locator(".chat-no-provider")
    expect(notice).to_contain_text("No AI provider connected")
    expect(notice.get_by_role("link", name="Connect an AI provider")).to_have_attribute(
        "href", "/integrations"
    )
    send(page, "Summarize my emails and send them to Telegram")
    answer = page.locator(".chat-assistant").last
    expect(answer.locator(".chat-markdown")).to_contain_text("connect an AI provider first")
    expect(answer.locator(".chat-activity")).to_have_text("Looked for matching templates: 3 found")
    expect(answer.get_by_role("link", name="Browse templates")).to_have_attribute("href", "/templates")
    expect(answer.locator(".chat-meta")).to_have_count(0)  # nothing charged
    assert_accessible(page)
    screenshot(page, "assistant-no-provider")

    # Without JavaScript the message box still works: the page reloads with the answer.
    no_script = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    no_script.add_cookies(page.context.cookies())
    plain = no_script.new_page()
    plain.goto(page.url)
    send(plain, "Post new Gmail attachments to Notion")
    expect(plain.locator(".chat-user").last).to_have_text(re.compile("Post new Gmail attachments to Notion"))
    expect(plain.locator(".chat-assistant")).to_have_count(2)
    no_script.close()

    # A conversation closed through the API says so, and reopens.
    session_id = page.url.rsplit("/", 1)[-1]
    closed = account.api.patch(f"/api/v1/chat/sessions/{session_id}", json={"status": "completed"})
    assert closed.status_code == 200, closed.text
    page.reload()
    expect(page.locator(".chat-closed")).to_contain_text("This conversation is completed")
    assert_accessible(page)
    page.get_by_role("button", name="Reopen").click()
    expect(page.locator(".chat-closed")).to_have_count(0)
    assert account.api.get(f"/api/v1/chat/sessions/{session_id}").json()["status"] == "active"


@pytest.mark.parametrize(
    ("status", "title", "action"),
    [
        (401, "The AI provider refused the API key", "Replace the key under Integrations"),
        (429, "The AI provider is limiting requests", "Wait a moment, then send again."),
        (503, "The AI provider is not answering", "Try again in a moment."),
    ],
)
def test_a_provider_error_is_shown_with_what_to_do(
    page: Page,
    account: Account,
    live_server: LiveServer,
    fake_openai: FakeOpenAI,
    status: int,
    title: str,
    action: str,
) -> None:
    account.connect_openai(fake_openai)
    fake_openai.fail(status, "simulated by the test", times=5, path_contains="chat/completions")
    page.goto("/assistant")
    send(page, "Send my bank emails to Notion")
    error = page.locator(".chat-assistant .chat-error")
    expect(error).to_contain_text(title)
    expect(error).to_contain_text(action)
    expect(page.locator("#chat-credits")).to_contain_text("1000 credits left")
    assert_accessible(page)
    if status == 401:
        expect(error.get_by_role("link", name=action)).to_have_attribute("href", "/integrations")
        screenshot(page, "assistant-provider-error")


async def _use_up_credits(database_url: str, email: str) -> None:
    database = Database(database_url, pool_size=1)
    try:
        # Users cannot write their credits: the service role does, as the engine would.
        async with database.service_session() as session:
            await session.execute(
                update(tables.profiles)
                .where(tables.profiles.c.email == email)
                .values(credits_used=tables.profiles.c.credits_limit)
            )
    finally:
        await database.dispose()


def test_with_the_credits_used_up_the_answer_says_so_and_nothing_is_saved(
    page: Page, account: Account, live_server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    account.connect_openai(fake_openai)
    run_async(_use_up_credits(live_server.database_url, account.email))
    page.goto("/assistant")
    expect(page.locator("#chat-credits strong")).to_have_text("0")
    send(page, "Send my bank emails to Notion")
    expect(page.locator(".chat-assistant .chat-error")).to_contain_text("Not enough credits left")
    assert fake_openai.chat_requests() == []
    page.reload()
    expect(page.locator(".chat-message")).to_have_count(0)
    assert_accessible(page)
