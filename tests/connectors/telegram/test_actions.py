from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from autofy.connectors.sdk import (
    Action,
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
)
from autofy.connectors.telegram import connector, list_recent_chats
from autofy.connectors.telegram.actions.get_chat import GetChat, GetChatInput
from autofy.connectors.telegram.actions.send_file import (
    SendDocument,
    SendDocumentInput,
    SendPhoto,
    SendPhotoInput,
)
from autofy.connectors.telegram.actions.send_message import SendMessage, SendMessageInput
from tests.fakes.telegram import FakeTelegram

CHAT_ID = 424242


async def test_send_message_with_formatting_and_silence(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(CHAT_ID)

    sent = await SendMessage().run(
        telegram_ctx,
        SendMessageInput.model_validate(
            {"chat_id": str(CHAT_ID), "text": "<b>Hi</b>", "parse_mode": "HTML", "disable_notification": True}
        ),
    )

    assert sent.chat_id == CHAT_ID
    assert sent.message_id > 0
    assert fake_telegram.sent == [
        (
            "sendMessage",
            {"chat_id": CHAT_ID, "text": "<b>Hi</b>", "parse_mode": "HTML", "disable_notification": True},
        )
    ]


async def test_plain_text_sends_no_parse_mode(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(CHAT_ID)

    await SendMessage().run(
        telegram_ctx, SendMessageInput.model_validate({"chat_id": CHAT_ID, "text": "hi", "parse_mode": ""})
    )

    assert "parse_mode" not in fake_telegram.sent[0][1]


async def test_send_to_a_channel_by_username(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(-1001234, kind="channel", title="News", username="acme_news")

    sent = await SendMessage().run(telegram_ctx, SendMessageInput(chat_id="@acme_news", text="release!"))

    assert sent.chat_id == -1001234


async def test_send_photo_and_document_by_url(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(CHAT_ID)

    await SendPhoto().run(
        telegram_ctx, SendPhotoInput(chat_id=CHAT_ID, photo="https://example.com/cat.jpg", caption="A cat")
    )
    await SendDocument().run(
        telegram_ctx, SendDocumentInput(chat_id=CHAT_ID, document="https://example.com/r.pdf")
    )

    assert fake_telegram.sent == [
        (
            "sendPhoto",
            {
                "chat_id": CHAT_ID,
                "photo": "https://example.com/cat.jpg",
                "caption": "A cat",
                "disable_notification": False,
            },
        ),
        (
            "sendDocument",
            {"chat_id": CHAT_ID, "document": "https://example.com/r.pdf", "disable_notification": False},
        ),
    ]


async def test_get_chat(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    fake_telegram.add_chat(-100777, kind="supergroup", title="Ops", username="ops_room")

    chat = await GetChat().run(telegram_ctx, GetChatInput(chat_id="-100777"))

    assert chat.model_dump() == {
        "id": -100777,
        "type": "supergroup",
        "title": "Ops",
        "username": "ops_room",
        "description": None,
    }


async def test_unknown_chat_is_a_permanent_error_in_telegrams_words(telegram_ctx: ConnectorContext) -> None:
    with pytest.raises(PermanentError, match="Telegram answered 400: Bad Request: chat not found") as raised:
        await SendMessage().run(telegram_ctx, SendMessageInput(chat_id=1, text="hi"))

    assert not isinstance(raised.value, AuthenticationError)


async def test_a_bot_blocked_by_the_user_is_not_a_credentials_problem(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(CHAT_ID)
    fake_telegram.blocked_chats.add(CHAT_ID)

    with pytest.raises(PermanentError, match="bot was blocked by the user") as raised:
        await SendMessage().run(telegram_ctx, SendMessageInput(chat_id=CHAT_ID, text="hi"))

    assert not isinstance(raised.value, AuthenticationError)


async def test_too_long_text_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="4096"):
        SendMessageInput(chat_id=CHAT_ID, text="x" * 4097)


async def test_connection_test_names_the_bot(telegram_ctx: ConnectorContext) -> None:
    result = await connector.test(telegram_ctx)

    assert result.ok
    assert result.account == "@autofy_test_bot"


async def test_malformed_token_is_an_authentication_error(telegram_ctx: ConnectorContext) -> None:
    telegram_ctx.credentials = {"bot_token": "not-a-token"}

    with pytest.raises(AuthenticationError, match="bot token is not valid"):
        await connector.test(telegram_ctx)


async def test_list_recent_chats_confirms_nothing(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_chat(1, title="Ada")
    fake_telegram.add_chat(-100, kind="group", title="Team")
    fake_telegram.add_incoming_message(1, "hello")
    fake_telegram.add_incoming_message(-100, "hi all")
    fake_telegram.add_incoming_message(1, "again")

    chats = await list_recent_chats(telegram_ctx)

    assert chats == [
        {"id": 1, "type": "private", "title": "Ada"},
        {"id": -100, "type": "group", "title": "Team"},
    ]
    assert len(fake_telegram.updates) == 3
    assert "offset" not in fake_telegram.requests_to("getUpdates")[0].json()


async def test_bot_token_is_redacted_from_httpx_request_logs(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        await connector.test(telegram_ctx)

    assert any("/bot<redacted>/getMe" in record.getMessage() for record in caplog.records)
    assert fake_telegram.token not in caplog.text


# --- failure modes, for every action ------------------------------------------------------------

ACTIONS: dict[str, tuple[Action[Any, Any], dict[str, Any]]] = {
    "send_message": (SendMessage(), {"chat_id": CHAT_ID, "text": "hi"}),
    "send_photo": (SendPhoto(), {"chat_id": CHAT_ID, "photo": "https://example.com/a.png"}),
    "send_document": (SendDocument(), {"chat_id": CHAT_ID, "document": "https://example.com/a.pdf"}),
    "get_chat": (GetChat(), {"chat_id": CHAT_ID}),
}


async def _run(name: str, ctx: ConnectorContext, fake: FakeTelegram) -> Any:
    fake.add_chat(CHAT_ID)
    action, params = ACTIONS[name]
    return await action.run(ctx, action.input_model.model_validate(params))


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_succeeds(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    output = await _run(name, telegram_ctx, fake_telegram)

    assert isinstance(output, ACTIONS[name][0].output_model)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_auth_failure(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    telegram_ctx.credentials = {"bot_token": "7012345678:AAHrevokedToken"}

    with pytest.raises(AuthenticationError, match="Telegram answered 401: Unauthorized"):
        await _run(name, telegram_ctx, fake_telegram)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_rate_limit_honours_retry_after_from_the_body(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.rate_limit(23)

    with pytest.raises(TransientError, match="Too Many Requests: retry after 23") as raised:
        await _run(name, telegram_ctx, fake_telegram)

    assert raised.value.retry_after == 23


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_server_error(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.fail(502, "Bad Gateway")

    with pytest.raises(TransientError, match="Telegram answered 502: Bad Gateway"):
        await _run(name, telegram_ctx, fake_telegram)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_malformed_response(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.malformed()

    with pytest.raises(TransientError, match="malformed"):
        await _run(name, telegram_ctx, fake_telegram)


@pytest.mark.parametrize("name", ACTIONS)
async def test_ok_false_or_missing_result_is_reported(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.fail(200, body={"ok": True})

    with pytest.raises(TransientError, match="unexpected body"):
        await _run(name, telegram_ctx, fake_telegram)


@pytest.mark.parametrize("name", ACTIONS)
async def test_bot_token_never_appears_in_errors_or_outputs(
    name: str, fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    texts = [json.dumps((await _run(name, telegram_ctx, fake_telegram)).model_dump())]
    for arrange in (
        lambda: fake_telegram.fail(500),
        lambda: fake_telegram.rate_limit(1),
        fake_telegram.malformed,
    ):
        arrange()
        with pytest.raises(TransientError) as raised:
            await _run(name, telegram_ctx, fake_telegram)
        texts.append(str(raised.value))
    telegram_ctx.configuration = {"api_base": "http://127.0.0.1:9"}  # nothing listens there
    with pytest.raises(TransientError) as unreachable:
        await _run(name, telegram_ctx, fake_telegram)
    texts.append(str(unreachable.value))

    assert not [text for text in texts if fake_telegram.token in text or "AAHfake" in text]


async def test_timeout_is_transient_and_names_no_token(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.slow(1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as impatient:
        telegram_ctx.http = impatient
        with pytest.raises(TransientError, match="Telegram did not answer in time") as raised:
            await connector.test(telegram_ctx)

    assert fake_telegram.token not in str(raised.value)
