from __future__ import annotations

from typing import Any

import pytest

from autofy.connectors.gmail.triggers import NewEmail, NewEmailConfig
from autofy.connectors.sdk import AuthenticationError, ConnectorContext, PermanentError, TransientError
from tests.fakes.gmail import FakeGmail

trigger = NewEmail()


def config(**values: Any) -> NewEmailConfig:
    return NewEmailConfig.model_validate(values)


async def test_only_email_arriving_after_activation_counts(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    fake_gmail.add_message(subject="before activation")
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.add_message(subject="after activation", body_text="Hello from later")

    result = await trigger.poll(gmail_ctx, config(), cursor)

    [item] = result.items
    assert item["subject"] == "after activation"
    assert item["from"] == "Ada Lovelace <ada@example.com>"
    assert item["body_text"].strip() == "Hello from later"
    assert set(item) == {
        "id", "thread_id", "from", "to", "cc", "subject", "date", "snippet", "body_text", "labels", "attachments",
    }  # fmt: skip


async def test_several_emails_in_the_same_second_all_arrive_oldest_first(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    for subject in ("first", "second", "third"):
        fake_gmail.add_message(subject=subject, received_at=1_800_000_000.0)
    fake_gmail.add_message(subject="earliest", received_at=1_799_999_999.0)

    result = await trigger.poll(gmail_ctx, config(), cursor)

    assert [item["subject"] for item in result.items] == ["earliest", "first", "second", "third"]


async def test_no_email_is_delivered_twice_across_polls(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.add_message(subject="one")
    first = await trigger.poll(gmail_ctx, config(), cursor)

    second = await trigger.poll(gmail_ctx, config(), first.cursor)
    fake_gmail.add_message(subject="two")
    third = await trigger.poll(gmail_ctx, config(), second.cursor)

    assert [item["subject"] for item in first.items] == ["one"]
    assert second.items == []
    assert [item["subject"] for item in third.items] == ["two"]


async def test_delivered_ids_stop_duplicates_when_history_overlaps(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.add_message(subject="one")
    first = await trigger.poll(gmail_ctx, config(), cursor)

    # The same history window again, but with the ids already delivered remembered.
    overlapping = {**first.cursor, "history_id": cursor["history_id"]}
    again = await trigger.poll(gmail_ctx, config(), overlapping)

    assert again.items == []


async def test_filters_by_sender_subject_keywords_and_label(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    receipts = fake_gmail.add_label("Receipts")
    wanted = config(
        **{"from": "billing@", "subject": "invoice", "keywords": "paid, overdue", "label": "Receipts"}
    )
    cursor = await trigger.start(gmail_ctx, wanted)
    fake_gmail.add_message(
        sender="billing@shop.example", subject="Invoice 1", body_text="overdue", labels=(receipts,)
    )
    fake_gmail.add_message(
        sender="billing@shop.example", subject="Invoice 2", body_text="overdue"
    )  # no label
    fake_gmail.add_message(
        sender="news@shop.example", subject="Invoice 3", body_text="paid", labels=(receipts,)
    )
    fake_gmail.add_message(
        sender="billing@shop.example", subject="Hello", body_text="paid", labels=(receipts,)
    )
    fake_gmail.add_message(
        sender="billing@shop.example", subject="Invoice 5", body_text="soon", labels=(receipts,)
    )

    result = await trigger.poll(gmail_ctx, wanted, cursor)

    assert [item["subject"] for item in result.items] == ["Invoice 1"]
    assert result.items[0]["labels"] == ["Receipts"]


async def test_gmail_search_query_is_applied_by_gmail(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    wanted = config(query="from:bank.example has:attachment")
    cursor = await trigger.start(gmail_ctx, wanted)
    fake_gmail.add_message(sender="alerts@bank.example", subject="Statement", attachments=("statement.pdf",))
    fake_gmail.add_message(sender="alerts@bank.example", subject="No attachment")
    fake_gmail.add_message(sender="friend@example.com", subject="Photo", attachments=("photo.pdf",))

    result = await trigger.poll(gmail_ctx, wanted, cursor)

    assert [item["subject"] for item in result.items] == ["Statement"]
    assert result.items[0]["attachments"] == ["statement.pdf"]


async def test_expired_history_falls_back_to_a_date_search(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    first = fake_gmail.add_message(subject="delivered")
    delivered = await trigger.poll(gmail_ctx, config(), cursor)
    fake_gmail.add_message(subject="missed while history was lost")
    fake_gmail.forget_history_before(10**9)

    result = await trigger.poll(gmail_ctx, config(), delivered.cursor)

    assert [item["id"] for item in delivered.items] == [first]
    assert [item["subject"] for item in result.items] == ["missed while history was lost"]
    assert int(result.cursor["history_id"]) > int(delivered.cursor["history_id"])


async def test_unknown_label_fails_at_activation(gmail_ctx: ConnectorContext) -> None:
    with pytest.raises(PermanentError, match="no label named 'Nope'"):
        await trigger.start(gmail_ctx, config(label="Nope"))


async def test_poll_without_start_is_refused(gmail_ctx: ConnectorContext) -> None:
    with pytest.raises(PermanentError, match="not started"):
        await trigger.poll(gmail_ctx, config(), {})


async def test_poll_auth_failure(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.revoke()

    with pytest.raises(AuthenticationError) as raised:
        await trigger.poll(gmail_ctx, config(), cursor)

    assert raised.value.expired is True


async def test_poll_rate_limited(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.fail(429, "Too many requests", retry_after=30, path_contains="/history")

    with pytest.raises(TransientError) as raised:
        await trigger.poll(gmail_ctx, config(), cursor)

    assert raised.value.retry_after == 30


async def test_poll_server_error_keeps_nothing_half_done(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.add_message(subject="one")
    fake_gmail.fail(500, "Internal error", path_contains="/messages/")

    with pytest.raises(TransientError, match="500"):
        await trigger.poll(gmail_ctx, config(), cursor)
    retried = await trigger.poll(gmail_ctx, config(), cursor)

    assert [item["subject"] for item in retried.items] == ["one"]


async def test_poll_malformed_response(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    cursor = await trigger.start(gmail_ctx, config())
    fake_gmail.malformed(path_contains="/history")

    with pytest.raises(TransientError, match="malformed"):
        await trigger.poll(gmail_ctx, config(), cursor)
