from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from autofy.connectors.gmail import connector
from autofy.connectors.gmail.actions.get_email import GetEmail, GetEmailInput
from autofy.connectors.gmail.actions.labels import (
    AddLabel,
    ArchiveEmail,
    EmailRef,
    LabelChangeInput,
    MarkRead,
    MarkUnread,
    RemoveLabel,
)
from autofy.connectors.gmail.actions.reply_to_email import ReplyToEmail, ReplyToEmailInput
from autofy.connectors.gmail.actions.search_emails import SearchEmails, SearchEmailsInput
from autofy.connectors.gmail.actions.send_email import SendEmail, SendEmailInput
from autofy.connectors.sdk import (
    Action,
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
)
from tests.fakes.gmail import FakeGmail


async def test_send_email_builds_a_real_message(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    result = await SendEmail().run(
        gmail_ctx,
        SendEmailInput(
            to="bob@example.com, Carol <carol@example.com>",
            cc=["dave@example.com"],
            bcc="eve@example.com",
            subject="Quarterly report",
            body_text="See the numbers.",
            body_html="<p>See the <b>numbers</b>.</p>",
        ),
    )

    [sent] = fake_gmail.sent
    assert result.id == sent.message_id
    assert result.thread_id
    assert sent.header("To") == "bob@example.com, Carol <carol@example.com>"
    assert sent.header("Cc") == "dave@example.com"
    assert sent.header("Bcc") == "eve@example.com"
    assert sent.header("Subject") == "Quarterly report"
    assert sent.text().strip() == "See the numbers."
    assert "<b>numbers</b>" in sent.html()
    assert "Bcc" not in fake_gmail.state.messages[result.id].mime  # Gmail keeps no Bcc in the copy


async def test_send_email_derives_text_from_html(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    await SendEmail().run(
        gmail_ctx,
        SendEmailInput(to=["bob@example.com"], subject="Hi", body_html="<h1>Hello</h1><p>World</p>"),
    )

    assert fake_gmail.sent[0].text().split() == ["Hello", "World"]


async def test_send_email_refuses_header_injection(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    with pytest.raises(PermanentError, match="invalid email header"):
        await SendEmail().run(
            gmail_ctx,
            SendEmailInput(to="bob@example.com", subject="Hi\nBcc: victim@example.com", body_text="x"),
        )

    assert fake_gmail.sent == []


async def test_send_email_refuses_a_recipient_that_is_not_an_address(gmail_ctx: ConnectorContext) -> None:
    with pytest.raises(PermanentError, match="not an email address"):
        await SendEmail().run(gmail_ctx, SendEmailInput(to="bob", subject="Hi", body_text="x"))


async def test_reply_stays_in_the_thread(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    original = fake_gmail.add_message(
        sender="Ada <ada@example.com>",
        subject="Invoice 42",
        message_id_header="<abc@mail.example.com>",
    )

    result = await ReplyToEmail().run(gmail_ctx, ReplyToEmailInput(message_id=original, body_text="Paid."))

    [sent] = fake_gmail.sent
    assert sent.thread_id == fake_gmail.state.messages[original].thread_id == result.thread_id
    assert sent.header("To") == "Ada <ada@example.com>"
    assert sent.header("Subject") == "Re: Invoice 42"
    assert sent.header("In-Reply-To") == "<abc@mail.example.com>"
    assert sent.header("References") == "<abc@mail.example.com>"


async def test_reply_all_copies_the_other_recipients_but_not_me(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    original = fake_gmail.add_message(
        sender="ada@example.com", to="me@example.com, bob@example.com", subject="Re: Plans"
    )

    await ReplyToEmail().run(
        gmail_ctx, ReplyToEmailInput(message_id=original, body_text="Ok", reply_all=True)
    )

    [sent] = fake_gmail.sent
    assert sent.header("Cc") == "bob@example.com"
    assert sent.header("Subject") == "Re: Plans"


async def test_get_email_reads_every_field(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    fake_gmail.add_label("Receipts")
    message_id = fake_gmail.add_message(
        sender="Shop <shop@example.com>",
        subject="Your receipt",
        body_text="Total: 12 EUR\nThanks!",
        body_html="<p>Total: 12 EUR</p>",
        labels=("INBOX", "UNREAD", "Label_9"),
        attachments=("receipt.pdf",),
        received_at=1_767_225_600.5,
    )

    email = await GetEmail().run(gmail_ctx, GetEmailInput(message_id=message_id))

    dumped = email.model_dump()
    assert dumped["from"] == "Shop <shop@example.com>"
    assert dumped["to"] == "me@example.com"
    assert email.subject == "Your receipt"
    assert email.date == "2026-01-01T00:00:00.500000+00:00"
    assert email.body_text.strip() == "Total: 12 EUR\nThanks!"
    assert email.snippet.startswith("Total: 12 EUR")
    assert email.attachments == ["receipt.pdf"]
    assert email.labels == ["INBOX", "UNREAD", "Receipts"]


async def test_get_email_of_an_unknown_message_is_permanent(gmail_ctx: ConnectorContext) -> None:
    with pytest.raises(PermanentError, match="404: Requested entity was not found") as raised:
        await GetEmail().run(gmail_ctx, GetEmailInput(message_id="deadbeef"))

    assert not raised.value.retryable


async def test_search_emails_uses_gmail_search(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    fake_gmail.add_message(sender="bank@bank.example", subject="Statement", received_at=1000)
    fake_gmail.add_message(sender="news@shop.example", subject="Sale")
    fake_gmail.add_message(sender="bank@bank.example", subject="Alert", received_at=2000)

    result = await SearchEmails().run(gmail_ctx, SearchEmailsInput(query="from:bank.example", max_results=5))

    assert result.count == 2
    assert [email.subject for email in result.messages] == ["Alert", "Statement"]
    assert fake_gmail.requests_to("/messages")[0].query["q"] == "from:bank.example"


async def test_search_emails_stops_at_max_results(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    for index in range(4):
        fake_gmail.add_message(subject=f"m{index}")

    result = await SearchEmails().run(gmail_ctx, SearchEmailsInput(query="", max_results=3))

    assert result.count == 3


async def test_add_and_remove_a_label_by_name(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    label_id = fake_gmail.add_label("Follow up")
    message_id = fake_gmail.add_message()

    added = await AddLabel().run(gmail_ctx, LabelChangeInput(message_id=message_id, label="follow up"))
    assert "Follow up" in added.labels
    assert label_id in fake_gmail.state.messages[message_id].label_ids

    removed = await RemoveLabel().run(gmail_ctx, LabelChangeInput(message_id=message_id, label="Follow up"))
    assert "Follow up" not in removed.labels
    assert label_id not in fake_gmail.state.messages[message_id].label_ids


async def test_unknown_label_names_the_labels_that_exist(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    fake_gmail.add_label("Receipts")
    message_id = fake_gmail.add_message()

    with pytest.raises(PermanentError, match=r"no label named 'Recipts'.*Receipts"):
        await AddLabel().run(gmail_ctx, LabelChangeInput(message_id=message_id, label="Recipts"))

    assert fake_gmail.requests_to("/modify") == []


async def test_read_state_and_archive(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    message_id = fake_gmail.add_message(labels=("INBOX", "UNREAD"))
    ref = EmailRef(message_id=message_id)

    assert "UNREAD" not in (await MarkRead().run(gmail_ctx, ref)).labels
    assert "UNREAD" in (await MarkUnread().run(gmail_ctx, ref)).labels
    archived = await ArchiveEmail().run(gmail_ctx, ref)

    assert archived.labels == ["UNREAD"]
    assert fake_gmail.state.messages[message_id].label_ids == ["UNREAD"]


async def test_connection_test_names_the_account(fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    result = await connector.test(gmail_ctx)

    assert result.ok
    assert result.account == "me@example.com"


# --- failure modes, for every action ------------------------------------------------------------

ActionCase = tuple[Action[Any, Any], Callable[[str], dict[str, Any]]]
ACTIONS: dict[str, ActionCase] = {
    "send_email": (SendEmail(), lambda _: {"to": "bob@example.com", "subject": "s", "body_text": "b"}),
    "reply_to_email": (ReplyToEmail(), lambda message_id: {"message_id": message_id, "body_text": "b"}),
    "search_emails": (SearchEmails(), lambda _: {"query": "hello"}),
    "get_email": (GetEmail(), lambda message_id: {"message_id": message_id}),
    "add_label": (AddLabel(), lambda message_id: {"message_id": message_id, "label": "STARRED"}),
    "remove_label": (RemoveLabel(), lambda message_id: {"message_id": message_id, "label": "STARRED"}),
    "mark_read": (MarkRead(), lambda message_id: {"message_id": message_id}),
    "mark_unread": (MarkUnread(), lambda message_id: {"message_id": message_id}),
    "archive_email": (ArchiveEmail(), lambda message_id: {"message_id": message_id}),
}


async def _run(case: ActionCase, ctx: ConnectorContext, message_id: str) -> Any:
    action, params = case
    return await action.run(ctx, action.input_model.model_validate(params(message_id)))


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_succeeds(name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    message_id = fake_gmail.add_message(subject="hello")

    output = await _run(ACTIONS[name], gmail_ctx, message_id)

    assert isinstance(output, ACTIONS[name][0].output_model)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_auth_failure(name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    message_id = fake_gmail.add_message(subject="hello")
    fake_gmail.fail(401, "Request had invalid authentication credentials.", times=2, path_contains="/gmail/")

    with pytest.raises(AuthenticationError, match="Gmail answered 401") as raised:
        await _run(ACTIONS[name], gmail_ctx, message_id)

    assert raised.value.expired is False


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_rate_limited(name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    message_id = fake_gmail.add_message(subject="hello")
    fake_gmail.fail(429, "Too many concurrent requests for user", retry_after=17, path_contains="/gmail/")

    with pytest.raises(TransientError) as raised:
        await _run(ACTIONS[name], gmail_ctx, message_id)

    assert raised.value.status_code == 429
    assert raised.value.retry_after == 17


async def test_per_user_rate_limit_reported_as_403_is_transient(
    fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    body = fake_gmail.error_body(403, "User-rate limit exceeded.")
    body["error"]["errors"][0]["reason"] = "userRateLimitExceeded"
    fake_gmail.fail(403, body=body, path_contains="/profile")

    with pytest.raises(TransientError, match="User-rate limit exceeded"):
        await connector.test(gmail_ctx)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_server_error(name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext) -> None:
    message_id = fake_gmail.add_message(subject="hello")
    fake_gmail.fail(503, "The service is currently unavailable.", path_contains="/gmail/")

    with pytest.raises(TransientError, match="Gmail answered 503: The service is currently unavailable"):
        await _run(ACTIONS[name], gmail_ctx, message_id)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_malformed_response(
    name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    message_id = fake_gmail.add_message(subject="hello")
    fake_gmail.malformed(path_contains="/gmail/")

    with pytest.raises(TransientError, match="malformed"):
        await _run(ACTIONS[name], gmail_ctx, message_id)


@pytest.mark.parametrize("name", ACTIONS)
async def test_credentials_never_appear_in_errors_or_outputs(
    name: str, fake_gmail: FakeGmail, gmail_ctx: ConnectorContext
) -> None:
    message_id = fake_gmail.add_message(subject="hello")
    secrets = [str(gmail_ctx.credentials[key]) for key in ("client_secret", "refresh_token", "access_token")]
    texts = [json.dumps((await _run(ACTIONS[name], gmail_ctx, message_id)).model_dump())]
    for arrange in (
        lambda: fake_gmail.fail(401, times=2, path_contains="/gmail/"),
        lambda: fake_gmail.fail(500, path_contains="/gmail/"),
        lambda: fake_gmail.malformed(path_contains="/gmail/"),
        fake_gmail.revoke,
    ):
        arrange()
        with pytest.raises(Exception) as raised:  # noqa: PT011 - every failure kind is checked
            await _run(ACTIONS[name], gmail_ctx, message_id)
        texts.append(str(raised.value))

    assert not [secret for secret in secrets for text in texts if secret in text]
