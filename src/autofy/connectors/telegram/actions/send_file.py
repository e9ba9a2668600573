"""Sending a photo or a document by URL: the same call with a different method and field."""

from __future__ import annotations

from pydantic import Field, field_validator

from autofy.connectors.sdk import Action, ConnectorContext, StrictModel
from autofy.connectors.telegram.actions.send_message import (
    PARSE_MODE_HELP,
    ParseMode,
    SentMessage,
    empty_as_none,
    send_options,
    sent_message,
)
from autofy.connectors.telegram.chats import ChatId
from autofy.connectors.telegram.client import TelegramClient


class _FileMessage(StrictModel):
    chat_id: ChatId
    caption: str = Field(
        default="", max_length=1024, description="Text shown under the file, up to 1024 characters."
    )
    parse_mode: ParseMode = Field(default=None, description=PARSE_MODE_HELP + " Applies to the caption.")
    disable_notification: bool = Field(default=False, description="Send silently: no sound for recipients.")

    _parse_mode = field_validator("parse_mode", mode="before")(empty_as_none)


class SendPhotoInput(_FileMessage):
    photo: str = Field(
        min_length=1,
        description="Public URL of the image (JPEG/PNG, up to 5 MB; Telegram downloads it), or a file_id.",
    )


class SendDocumentInput(_FileMessage):
    document: str = Field(
        min_length=1, description="Public URL of the file (up to 20 MB; Telegram downloads it), or a file_id."
    )


async def _send_file(
    ctx: ConnectorContext, method: str, field: str, url: str, params: _FileMessage
) -> SentMessage:
    payload = {
        "chat_id": params.chat_id,
        field: url,
        **send_options(params.parse_mode, params.disable_notification),
    }
    if params.caption:
        payload["caption"] = params.caption
    return sent_message(await TelegramClient(ctx).call(method, payload))


class SendPhoto(Action[SendPhotoInput, SentMessage]):
    name = "send_photo"
    display_name = "Send photo"
    description = "Send an image (by URL) with an optional caption from your Telegram bot to a chat."
    input_model = SendPhotoInput
    output_model = SentMessage

    async def run(self, ctx: ConnectorContext, params: SendPhotoInput) -> SentMessage:
        return await _send_file(ctx, "sendPhoto", "photo", params.photo, params)


class SendDocument(Action[SendDocumentInput, SentMessage]):
    name = "send_document"
    display_name = "Send document"
    description = "Send a file (by URL) with an optional caption from your Telegram bot to a chat."
    input_model = SendDocumentInput
    output_model = SentMessage

    async def run(self, ctx: ConnectorContext, params: SendDocumentInput) -> SentMessage:
        return await _send_file(ctx, "sendDocument", "document", params.document, params)
