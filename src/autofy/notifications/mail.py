"""Notification emails: composed as plain text (nothing in them is ever interpreted as markup) and
sent with aiosmtplib to the operator's mail server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from autofy.config import Settings
from autofy.notifications.mail_server import SmtpServer, parse_smtp_url
from autofy.notifications.service import Wording

SMTP_TIMEOUT_SECONDS = 30.0
_SUBJECT_LENGTH = 150
_WHITESPACE = re.compile(r"\s+")

FOOTER = (
    "You get this email because email notifications are on for your Autofy account. To stop them, "
    'set the preference "notifications" to {"email_on_failure": false} '
    "(PUT /api/v1/preferences/notifications)."
)
BATCHED = "If this workflow fails again within the hour, those runs are listed in Autofy but not emailed."

# What a mail server, or the way to it, can do wrong: refuse, time out, be unreachable.
SendFailure = (aiosmtplib.SMTPException, OSError)


def _one_line(text: str, limit: int) -> str:
    """Header-safe: no line breaks (no header injection), bounded length."""
    line = _WHITESPACE.sub(" ", text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def compose(wording: Wording, *, sender: str, recipient: str, public_url: str, batched: bool) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = _one_line(f"Autofy: {wording.title}", _SUBJECT_LENGTH)
    message["From"] = sender
    message["To"] = recipient
    paragraphs = [wording.title, wording.message, f"Open it in Autofy: {public_url}{wording.link}"]
    if batched:
        paragraphs.append(BATCHED)
    paragraphs += ["--", FOOTER]
    message.set_content("\n\n".join(paragraphs) + "\n")
    return message


@dataclass(frozen=True)
class Mailer:
    server: SmtpServer
    sender: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        """The configured mailer; None unless both AUTOFY_SMTP_URL and AUTOFY_MAIL_FROM are set."""
        if settings.smtp_url is None or settings.mail_from is None:
            return None
        return cls(parse_smtp_url(settings.smtp_url.get_secret_value()), settings.mail_from)

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.server.host,
            port=self.server.port,
            username=self.server.username,
            password=self.server.password,
            use_tls=self.server.use_tls,
            start_tls=self.server.start_tls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
