from __future__ import annotations

from typing import Any

from pydantic import Field

from autofy.connectors.sdk import Action, ConnectorContext, StrictModel, TransientError
from autofy.connectors.telegram.chats import ChatId, chat_title
from autofy.connectors.telegram.client import TelegramClient


class GetChatInput(StrictModel):
    chat_id: ChatId


class Chat(StrictModel):
    id: int = Field(description="Numeric chat id.")
    type: str = Field(description="private, group, supergroup or channel.")
    title: str = Field(description="The group or channel title, or the person's name for a private chat.")
    username: str | None = Field(description="The @username of the chat, if it has one (without @).")
    description: str | None = Field(description="The group or channel description, if any.")


class GetChat(Action[GetChatInput, Chat]):
    name = "get_chat"
    display_name = "Get chat"
    description = "Look up a Telegram chat the bot is in: its id, type, title and username."
    input_model = GetChatInput
    output_model = Chat

    async def run(self, ctx: ConnectorContext, params: GetChatInput) -> Chat:
        result: Any = await TelegramClient(ctx).call("getChat", {"chat_id": params.chat_id})
        try:
            return Chat(
                id=int(result["id"]),
                type=str(result["type"]),
                title=chat_title(result),
                username=result.get("username"),
                description=result.get("description"),
            )
        except (TypeError, KeyError, ValueError):
            raise TransientError("Telegram answered getChat without a chat") from None
