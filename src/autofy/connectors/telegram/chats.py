"""What identifies a chat, in inputs (a numeric id or @channelusername) and outputs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

CHAT_ID_HELP = (
    "The chat: its numeric id (e.g. 123456789, or -100… for groups and channels) or a public "
    "channel's @username. Find it with the new_message trigger or the assistant's recent-chats list."
)
_NUMERIC = re.compile(r"-?\d+")


def _chat_id(value: Any) -> Any:
    # Templates render ids as text; Telegram wants a number for numeric ids.
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        return int(value.strip())
    return value


ChatId = Annotated[int | str, BeforeValidator(_chat_id), Field(description=CHAT_ID_HELP)]


def chat_title(chat: dict[str, Any]) -> str:
    """A name to show for a chat: a group's title, or a person's name."""
    if chat.get("title"):
        return str(chat["title"])
    name = " ".join(str(chat[key]) for key in ("first_name", "last_name") if chat.get(key))
    return name or (f"@{chat['username']}" if chat.get("username") else str(chat.get("id", "")))
