"""Telegram: a bot that sends messages, photos and documents, and starts workflows on new messages."""

from __future__ import annotations

from typing import Any, ClassVar

from autofy.connectors.sdk import (
    Action,
    AuthSpec,
    ConnectionTestResult,
    Connector,
    ConnectorContext,
    CredentialField,
    PollingTrigger,
    TransientError,
)
from autofy.connectors.telegram.actions.get_chat import GetChat
from autofy.connectors.telegram.actions.send_file import SendDocument, SendPhoto
from autofy.connectors.telegram.actions.send_message import SendMessage
from autofy.connectors.telegram.client import DEFAULT_API_BASE, TelegramClient
from autofy.connectors.telegram.lookups import list_recent_chats
from autofy.connectors.telegram.triggers import NewMessage

HOW_TO_OBTAIN = """\
1. In Telegram, open a chat with @BotFather and send /newbot; choose a name and a username ending in
   "bot".
2. BotFather answers with the bot token (like 123456789:AAE…): paste it into Autofy.
3. Start a chat with your bot (or add it to a group, or make it an administrator of a channel) and
   send it a message, so it can write there; the chat then appears in Autofy's recent chats.
4. To read all messages in a group (not only commands), send /setprivacy to @BotFather and disable
   privacy mode for the bot.
5. The new_message trigger has Telegram deliver the bot's messages to Autofy's webhook URL, which
   needs Autofy reachable over HTTPS (AUTOFY_PUBLIC_URL). A bot has one webhook: one active
   new_message workflow per bot, and no other program reading the same bot's updates."""


class TelegramConnector(Connector):
    service_name = "telegram"
    display_name = "Telegram"
    description = (
        "Send messages, photos and documents from a Telegram bot, and start workflows on messages to it."
    )
    auth = AuthSpec(
        kind="bot_token",
        fields=[
            CredentialField(
                name="bot_token",
                label="Bot token",
                description="The token @BotFather gave you for your bot, like 123456789:AAE….",
            )
        ],
        how_to_obtain=HOW_TO_OBTAIN,
    )
    default_api_base = DEFAULT_API_BASE
    actions: ClassVar[tuple[Action[Any, Any], ...]] = (SendMessage(), SendPhoto(), SendDocument(), GetChat())
    triggers: ClassVar[tuple[PollingTrigger[Any, Any], ...]] = (NewMessage(),)

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        me = await TelegramClient(ctx).call("getMe")
        if not isinstance(me, dict) or not me.get("username"):
            raise TransientError("Telegram answered getMe without the bot's username")
        account = f"@{me['username']}"
        return ConnectionTestResult(ok=True, message=f"Connected to Telegram as {account}", account=account)


connector = TelegramConnector()

__all__ = ["NewMessage", "connector", "list_recent_chats"]
