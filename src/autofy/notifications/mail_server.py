"""The operator's mail server and sender address, parsed and checked when settings load.

`AUTOFY_SMTP_URL` is set by whoever runs Autofy, never by a user, so it may name a private relay
(localhost, the LAN) and does not go through the outbound guard; it must still be a well-formed
SMTP URL, so a typo fails at start with a message rather than at the first email.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

# scheme: (TLS from the first byte, STARTTLS: required / when offered, default port)
_SCHEMES: dict[str, tuple[bool, bool | None, int]] = {
    "smtp": (False, None, 587),
    "smtp+starttls": (False, True, 587),
    "smtps": (True, False, 465),
}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    # None: upgrade with STARTTLS when the server offers it; True: refuse to send without it.
    start_tls: bool | None


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)
    return True


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://user:password@host:port` (STARTTLS when offered), `smtp+starttls://…` (STARTTLS
    required) or `smtps://…` (TLS from the start); the user name and password percent-encoded."""
    if any(character in url for character in "\r\n\x00"):
        raise ValueError("the SMTP URL contains a line break or NUL character")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"the SMTP URL must start with smtp://, smtp+starttls:// or smtps:// (got {scheme or 'no'} scheme)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the SMTP URL takes no path, query or fragment: smtp://user:password@host:port")
    host = parts.hostname or ""
    if not host or not _valid_host(host):
        raise ValueError(
            "the SMTP URL must name a valid host, e.g. smtp://user:password@mail.example.com:587"
        )
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError("the SMTP URL's port must be a number from 1 to 65535") from error
    use_tls, start_tls, default_port = _SCHEMES[scheme]
    return SmtpServer(
        host=host,
        port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def check_sender(sender: str) -> str:
    """`autofy@example.com` or `Autofy <autofy@example.com>`: one valid address, one line."""
    if any(character in sender for character in "\r\n\x00"):
        raise ValueError("the sender address contains a line break or NUL character")
    _, address = parseaddr(sender)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(
            f"the sender must be an email address such as Autofy <autofy@example.com> ({error})"
        ) from error
    return sender.strip()
