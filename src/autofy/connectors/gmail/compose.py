"""Building outgoing mail: RFC 2822 with the standard library, base64url-encoded for Gmail."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.utils import getaddresses

from autofy.connectors.gmail.messages import html_to_text
from autofy.connectors.sdk import PermanentError


def recipients(value: list[str] | str) -> list[str]:
    """Addresses from a list or a comma-separated string; a clear error for one that is not an address."""
    entries = [value] if isinstance(value, str) else value
    addresses: list[str] = []
    for name, address in getaddresses([entry for entry in entries if entry.strip()]):
        if "@" not in address or any(ch.isspace() for ch in address):
            raise PermanentError(f"'{address or name}' is not an email address")
        addresses.append(f"{name} <{address}>" if name else address)
    return addresses


def build_raw(
    *,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    extra_headers: dict[str, str] | None = None,
) -> str:
    """The message Gmail's `messages.send` takes as `raw` (Gmail sets From and strips Bcc)."""
    message = EmailMessage()
    try:
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        if bcc:
            message["Bcc"] = ", ".join(bcc)
        message["Subject"] = subject
        for name, value in (extra_headers or {}).items():
            message[name] = value
    except ValueError as error:  # a header value with a line break: refuse rather than inject
        raise PermanentError(f"invalid email header: {error}") from None
    message.set_content(body_text or html_to_text(body_html))
    if body_html:
        message.add_alternative(body_html, subtype="html")
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
