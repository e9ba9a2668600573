from __future__ import annotations

import pytest

from autofy.connectors.sdk import AuthenticationError, ConnectorContext, PermanentError, TransientError
from autofy.connectors.telegram.triggers import NewMessage, NewMessageConfig
from tests.fakes.telegram import FakeTelegram

trigger = NewMessage()
EVERYTHING = NewMessageConfig()


async def test_start_skips_messages_sent_before_activation(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.add_incoming_message(1, "old one")
    last_old = fake_telegram.add_incoming_message(1, "old two")

    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.add_incoming_message(1, "new")
    result = await trigger.poll(telegram_ctx, EVERYTHING, cursor)

    assert cursor == {"offset": last_old + 1}
    assert [item["text"] for item in result.items] == ["new"]


async def test_start_with_no_pending_updates(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.add_incoming_message(5, "first ever", date=1_767_225_600)

    result = await trigger.poll(telegram_ctx, EVERYTHING, cursor)

    [item] = result.items
    assert item == {
        "update_id": item["update_id"],
        "message_id": item["message_id"],
        "chat_id": 5,
        "chat_type": "private",
        "chat_title": "Ada",
        "chat_username": "",
        "from_id": item["from_id"],
        "from_username": "ada",
        "from_name": "Ada",
        "text": "first ever",
        "date": "2026-01-01T00:00:00+00:00",
    }


async def test_offset_advances_and_confirms_only_on_the_next_poll(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    first_id = fake_telegram.add_incoming_message(1, "a")
    fake_telegram.add_incoming_message(1, "b")

    first = await trigger.poll(telegram_ctx, EVERYTHING, cursor)
    assert len(fake_telegram.updates) == 2  # not confirmed yet: a lost cursor loses nothing
    retried = await trigger.poll(telegram_ctx, EVERYTHING, cursor)
    second = await trigger.poll(telegram_ctx, EVERYTHING, first.cursor)

    assert [item["text"] for item in first.items] == ["a", "b"]
    assert retried.items == first.items
    assert first.cursor == {"offset": first_id + 2}
    assert second.items == []
    assert fake_telegram.updates == []  # confirmed by asking past them
    assert second.cursor == first.cursor


async def test_non_message_updates_move_the_offset(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    other = fake_telegram.add_other_update()

    result = await trigger.poll(telegram_ctx, EVERYTHING, cursor)

    assert result.items == []
    assert result.cursor == {"offset": other + 1}


async def test_filters_by_chat_and_text(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    fake_telegram.add_chat(-100, kind="channel", title="Alerts", username="acme_alerts")
    wanted = NewMessageConfig(chat_id="@acme_alerts", text_contains="URGENT")
    cursor = await trigger.start(telegram_ctx, wanted)
    fake_telegram.add_incoming_message(-100, "urgent: disk full")
    fake_telegram.add_incoming_message(-100, "all fine")
    fake_telegram.add_incoming_message(7, "urgent but elsewhere")

    result = await trigger.poll(telegram_ctx, wanted, cursor)
    by_id = await trigger.poll(telegram_ctx, NewMessageConfig(chat_id=7), cursor)

    assert [item["text"] for item in result.items] == ["urgent: disk full"]
    assert result.items[0]["from_id"] is None  # channel posts have no sender
    assert [item["text"] for item in by_id.items] == ["urgent but elsewhere"]


async def test_webhook_conflict_says_what_to_do(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    fake_telegram.webhook_url = "https://elsewhere.example/hook"

    with pytest.raises(PermanentError, match="remove the webhook"):
        await trigger.start(telegram_ctx, EVERYTHING)


async def test_poll_auth_failure(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    telegram_ctx.credentials = {"bot_token": "7012345678:AAHrevoked"}

    with pytest.raises(AuthenticationError):
        await trigger.poll(telegram_ctx, EVERYTHING, cursor)


async def test_poll_rate_limited(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.rate_limit(11)

    with pytest.raises(TransientError) as raised:
        await trigger.poll(telegram_ctx, EVERYTHING, cursor)

    assert raised.value.retry_after == 11


async def test_poll_server_error(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.fail(500, "Internal Server Error")

    with pytest.raises(TransientError, match="500"):
        await trigger.poll(telegram_ctx, EVERYTHING, cursor)


async def test_poll_malformed_response(fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.malformed()

    with pytest.raises(TransientError, match="malformed"):
        await trigger.poll(telegram_ctx, EVERYTHING, cursor)


async def test_poll_result_of_the_wrong_shape(
    fake_telegram: FakeTelegram, telegram_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(telegram_ctx, EVERYTHING)
    fake_telegram.fail(200, body={"ok": True, "result": [{"message": {}}]})

    with pytest.raises(TransientError, match="unexpected body"):
        await trigger.poll(telegram_ctx, EVERYTHING, cursor)
