"""Small helpers shared by tests."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def database_url_with_name(server_url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
