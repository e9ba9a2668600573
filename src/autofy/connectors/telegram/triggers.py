"""The `new_message` trigger: messages sent to the bot after the workflow was activated.

Workflows receive them by webhook: activation has Telegram push the bot's updates to the
workflow's hook URL (`deliver_to`), and each delivered update becomes one item (`item`), the same
item a poll produces.

Polling (`start`, `poll`) reads them with getUpdates instead. Telegram keeps a bot's updates until
they are confirmed by asking for a higher `offset`. The cursor stores that offset, and each poll
reads one batch from it, so updates are only confirmed by the next poll, which carries the cursor
stored after this one: a crash between the two loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from autofy.connectors.sdk import ConnectorContext, PollingTrigger, PollResult, StrictModel
from autofy.connectors.telegram.chats import chat_title
from autofy.connectors.telegram.client import TelegramClient, message_of

# The updates that carry a message (see `message_of`): all a webhook asks Telegram for.
MESSAGE_UPDATES = ("message", "channel_post")


class NewMessageConfig(StrictModel):
    chat_id: int | str = Field(
        default="",
        description="Only messages in this chat (numeric id or @username). Empty for every chat the bot is in.",
    )
    text_contains: str = Field(
        default="", description="Only messages whose text contains this (case-insensitive). Empty for all."
    )

    def accepts(self, message: TelegramMessage) -> bool:
        wanted_chat = str(self.chat_id).strip()
        if wanted_chat and wanted_chat not in (str(message.chat_id), f"@{message.chat_username}"):
            return False
        return self.text_contains.casefold() in message.text.casefold()


class TelegramMessage(StrictModel):
    update_id: int = Field(description="Telegram's update id.")
    message_id: int = Field(description="Id of the message in its chat (use it to reply).")
    chat_id: int = Field(description="Numeric id of the chat (use it with send_message).")
    chat_type: str = Field(description="private, group, supergroup or channel.")
    chat_title: str = Field(description="Group or channel title, or the person's name.")
    chat_username: str = Field(description="The chat's @username without @, empty if none.")
    from_id: int | None = Field(description="Numeric id of the sender (none for channel posts).")
    from_username: str = Field(description="Sender's @username without @, empty if none.")
    from_name: str = Field(description="Sender's first and last name.")
    text: str = Field(description="The message text (or a photo's or document's caption).")
    date: str = Field(description="When the message was sent, ISO 8601 in UTC.")


def to_message(update: dict[str, Any]) -> TelegramMessage | None:
    message = message_of(update)
    if message is None:
        return None
    chat = message.get("chat") or {}
    sender = message.get("from") or {}
    return TelegramMessage(
        update_id=int(update["update_id"]),
        message_id=int(message.get("message_id", 0)),
        chat_id=int(chat.get("id", 0)),
        chat_type=str(chat.get("type", "")),
        chat_title=chat_title(chat),
        chat_username=str(chat.get("username") or ""),
        from_id=int(sender["id"]) if "id" in sender else None,
        from_username=str(sender.get("username") or ""),
        from_name=" ".join(str(sender[key]) for key in ("first_name", "last_name") if sender.get(key)),
        text=str(message.get("text") or message.get("caption") or ""),
        date=datetime.fromtimestamp(int(message.get("date", 0)), UTC).isoformat(),
    )


class NewMessage(PollingTrigger[NewMessageConfig, TelegramMessage]):
    name = "new_message"
    display_name = "New message"
    description = (
        "Starts the workflow for each message sent to your Telegram bot (in a private chat, a group it "
        "is in, or a channel it administers) after the workflow is activated."
    )
    config_model = NewMessageConfig
    output_model = TelegramMessage

    async def start(self, ctx: ConnectorContext, config: NewMessageConfig) -> dict[str, Any]:
        # offset -1 returns only the newest pending update: everything up to it predates activation.
        latest = await TelegramClient(ctx).get_updates(-1, limit=1)
        return {"offset": int(latest[-1]["update_id"]) + 1 if latest else None}

    async def poll(
        self, ctx: ConnectorContext, config: NewMessageConfig, cursor: Mapping[str, Any]
    ) -> PollResult:
        offset = cursor.get("offset")
        updates = await TelegramClient(ctx).get_updates(int(offset) if offset is not None else None)
        updates.sort(key=lambda update: int(update["update_id"]))
        items = [item for item in (self.item(config, update) for update in updates) if item is not None]
        next_offset = int(updates[-1]["update_id"]) + 1 if updates else offset
        return PollResult(items=items, cursor={"offset": next_offset})

    def item(self, config: NewMessageConfig, update: dict[str, Any]) -> dict[str, Any] | None:
        """The trigger's output for one update (polled or delivered), or None when the update is
        no message or the config's filters leave it out."""
        message = to_message(update)
        return message.model_dump() if message is not None and config.accepts(message) else None

    async def deliver_to(self, ctx: ConnectorContext, url: str, *, secret_token: str) -> None:
        """Have Telegram push the bot's messages to `url` (a bot has one webhook: this replaces any
        other, and getUpdates stops working until it is removed)."""
        await TelegramClient(ctx).set_webhook(url, secret_token=secret_token, allowed_updates=MESSAGE_UPDATES)

    async def stop_delivering_to(self, ctx: ConnectorContext, url: str) -> bool:
        """Remove the bot's webhook if it still is `url` (leaving one set since for something else);
        whether it was removed."""
        client = TelegramClient(ctx)
        if await client.webhook_url() != url:
            return False
        await client.delete_webhook()
        return True
