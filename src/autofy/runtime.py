"""What a running Autofy process stands on: its settings, secrets and database server."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from autofy.config import Settings
from autofy.db.embedded import EmbeddedPostgres

DEV_SECRETS_FILE = "secrets.json"


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message names it and says how to fix it."""


def generate_encryption_key() -> str:
    """A fresh `id:key` pair for AUTOFY_ENCRYPTION_KEYS (256-bit key, url-safe base64)."""
    key_id = secrets.token_hex(4)
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def with_secrets(settings: Settings) -> Settings:
    """Settings with the JWT secret and encryption keys present.

    With the embedded database (a laptop, a trial) missing secrets are generated once into the data
    folder, readable by the owner only; with an external database they must be configured, since a
    lost or changing key would lock every user out and make every stored credential unreadable.
    """
    if settings.jwt_secret is not None and settings.encryption_keys is not None:
        return settings
    if not settings.uses_embedded_database:
        missing = [
            name
            for name, value in (
                ("AUTOFY_JWT_SECRET", settings.jwt_secret),
                ("AUTOFY_ENCRYPTION_KEYS", settings.encryption_keys),
            )
            if value is None
        ]
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set when AUTOFY_DATABASE_URL is; "
            "generate them with `autofy keys generate`."
        )
    stored = _load_or_create_dev_secrets(settings.data_dir / DEV_SECRETS_FILE)
    return settings.model_copy(
        update={
            "jwt_secret": settings.jwt_secret or SecretStr(stored["jwt_secret"]),
            "encryption_keys": settings.encryption_keys or SecretStr(stored["encryption_keys"]),
        }
    )


def _load_or_create_dev_secrets(path: Path) -> dict[str, str]:
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    created = {
        "jwt_secret": secrets.token_urlsafe(48),
        "encryption_keys": generate_encryption_key(),
    }
    # O_EXCL: if two processes race on first start, one of them writes and the other reads.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load_or_create_dev_secrets(path)
    with os.fdopen(fd, "w") as handle:
        json.dump(created, handle)
    return created


@dataclass
class Runtime:
    settings: Settings  # as configured: `with_secrets` adds what serving needs
    database_url: str
    embedded: EmbeddedPostgres | None


@contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    """Start the embedded database when no URL is configured, and leave it again on exit."""
    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        database_url = embedded.start()
    else:
        database_url = settings.database_url
    try:
        yield Runtime(settings=settings, database_url=database_url, embedded=embedded)
    finally:
        if embedded is not None:
            embedded.stop()
