"""Gmail's message resource, and the email shape workflows see (`{{ trigger.subject }}` …)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict, Field


class Header(BaseModel):
    name: str
    value: str


class PartBody(BaseModel):
    size: int = 0
    data: str | None = None
    attachmentId: str | None = None


class MessagePart(BaseModel):
    mimeType: str = ""
    filename: str = ""
    headers: list[Header] = []
    body: PartBody = PartBody()
    parts: list[MessagePart] = []


class GmailMessage(BaseModel):
    id: str
    threadId: str
    labelIds: list[str] = []
    snippet: str = ""
    internalDate: str = "0"
    payload: MessagePart = MessagePart()

    def header(self, name: str) -> str:
        wanted = name.casefold()
        return next((h.value for h in self.payload.headers if h.name.casefold() == wanted), "")

    def received_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.internalDate) / 1000, UTC)


class Email(BaseModel):
    """One email as workflow steps see it."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_name=True)

    id: str = Field(description="Gmail message id (use it with get_email, reply_to_email, labels).")
    thread_id: str = Field(description="Gmail thread (conversation) id.")
    sender: str = Field(alias="from", description="The From header, e.g. 'Ada <ada@example.com>'.")
    to: str = Field(description="The To header.")
    cc: str = Field(default="", description="The Cc header, empty when there is none.")
    subject: str = Field(description="The subject line.")
    date: str = Field(description="When Gmail received the email, ISO 8601 in UTC.")
    snippet: str = Field(description="Gmail's short plain-text preview of the body.")
    body_text: str = Field(
        description="The body as plain text (the text part, or the HTML part turned into text)."
    )
    labels: list[str] = Field(description="Names of the labels on the email, e.g. INBOX, UNREAD.")
    attachments: list[str] = Field(description="File names of the attachments.")


def to_email(message: GmailMessage, label_names: list[str]) -> Email:
    return Email(
        id=message.id,
        thread_id=message.threadId,
        sender=message.header("From"),
        to=message.header("To"),
        cc=message.header("Cc"),
        subject=message.header("Subject"),
        date=message.received_at().isoformat(),
        snippet=message.snippet,
        body_text=body_text(message.payload),
        labels=label_names,
        attachments=attachment_names(message.payload),
    )


def body_text(payload: MessagePart) -> str:
    """The readable text of a message: its text/plain part, else its HTML part as text."""
    parts = list(_walk(payload))
    for mime_type in ("text/plain", "text/html"):
        for part in parts:
            if part.mimeType == mime_type and not part.filename and part.body.data:
                text = _decode(part.body.data)
                return html_to_text(text) if mime_type == "text/html" else text
    return ""


def attachment_names(payload: MessagePart) -> list[str]:
    return [part.filename for part in _walk(payload) if part.filename]


def _walk(part: MessagePart) -> list[MessagePart]:
    found = [part]
    for child in part.parts:
        found.extend(_walk(child))
    return found


def _decode(data: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("utf-8", errors="replace")


class _TextExtractor(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "head"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    lines = (" ".join(line.split()) for line in "".join(extractor.chunks).splitlines())
    return "\n".join(line for line in lines if line)
