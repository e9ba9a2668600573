from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from autofy.connectors.sdk import Action, ConnectorContext, StrictModel, TransientError
from autofy.connectors.telegram.chats import ChatId
from autofy.connectors.telegram.client import TelegramClient

ParseMode = Literal["MarkdownV2", "HTML"] | None
PARSE_MODE_HELP = (
    "How Telegram formats the text: empty for plain text, 'HTML' (<b>, <i>, <a href>…) or 'MarkdownV2' "
    "(*bold*, _italic_; characters such as . - ! ( ) must then be escaped with a backslash)."
)


def empty_as_none(value: Any) -> Any:
    return None if value == "" else value


class SendMessageInput(StrictModel):
    chat_id: ChatId
    text: str = Field(min_length=1, max_length=4096, description="The message, up to 4096 characters.")
    parse_mode: ParseMode = Field(default=None, description=PARSE_MODE_HELP)
    disable_notification: bool = Field(default=False, description="Send silently: no sound for recipients.")

    _parse_mode = field_validator("parse_mode", mode="before")(empty_as_none)


class SentMessage(StrictModel):
    message_id: int = Field(description="Id of the sent message in its chat.")
    chat_id: int = Field(description="Numeric id of the chat the message went to.")


def sent_message(result: Any) -> SentMessage:
    try:
        return SentMessage(message_id=int(result["message_id"]), chat_id=int(result["chat"]["id"]))
    except (TypeError, KeyError, ValueError):
        raise TransientError("Telegram answered without the sent message") from None


def send_options(parse_mode: str | None, disable_notification: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"disable_notification": disable_notification}
    if parse_mode:
        options["parse_mode"] = parse_mode
    return options


class SendMessage(Action[SendMessageInput, SentMessage]):
    name = "send_message"
    display_name = "Send message"
    description = "Send a text message from your Telegram bot to a chat, group or channel."
    input_model = SendMessageInput
    output_model = SentMessage

    async def run(self, ctx: ConnectorContext, params: SendMessageInput) -> SentMessage:
        result = await TelegramClient(ctx).call(
            "sendMessage",
            {
                "chat_id": params.chat_id,
                "text": params.text,
                **send_options(params.parse_mode, params.disable_notification),
            },
        )
        return sent_message(result)
