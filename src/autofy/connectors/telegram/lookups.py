"""Lookups for the AI assistant and the UI: which chats the bot has heard from recently."""

from __future__ import annotations

from autofy.connectors.sdk import ConnectorContext
from autofy.connectors.telegram.chats import chat_title
from autofy.connectors.telegram.client import TelegramClient, message_of


async def list_recent_chats(ctx: ConnectorContext) -> list[dict[str, str | int]]:
    """Chats in the bot's pending updates, most recent first: [{"id", "type", "title"}].

    Reads without an offset, so nothing is confirmed and a running new_message trigger loses
    nothing; chats whose messages that trigger already consumed do not appear.
    """
    updates = await TelegramClient(ctx).get_updates(None)
    chats: dict[int, dict[str, str | int]] = {}
    for update in sorted(updates, key=lambda u: int(u["update_id"]), reverse=True):
        message = message_of(update)
        chat = message.get("chat") if message else None
        if isinstance(chat, dict) and "id" in chat and int(chat["id"]) not in chats:
            chats[int(chat["id"])] = {
                "id": int(chat["id"]),
                "type": str(chat.get("type", "")),
                "title": chat_title(chat),
            }
    return list(chats.values())
