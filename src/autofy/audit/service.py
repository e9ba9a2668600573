"""The audit trail: every change made through the API, every sign-in, every key created or revoked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit import repository
from autofy.audit.schemas import AuditLog, AuditLogPage, RequestInfo

# Defence in depth: callers never pass secrets, and a value under a key that names one is
# replaced anyway, so a slip cannot write a password or token into a trail users can read. Keys
# are matched by whole words: `access_token` and `signing_secret` are redacted, `max_tokens` and
# `key_prefix` are not.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "secret", "token", "credential", "credentials", "authorization", "cookie"}
)
_SECRET_PHRASES = ("api_key", "apikey", "private_key")
REDACTED = "[redacted]"


def _names_a_secret(key: object) -> bool:
    normalized = str(key).lower().replace("-", "_")
    return bool(_SECRET_WORDS.intersection(normalized.split("_"))) or any(
        phrase in normalized for phrase in _SECRET_PHRASES
    )


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: REDACTED if _names_a_secret(key) else _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


async def record(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    meta: RequestInfo | None = None,
) -> None:
    """Write one audit row in the caller's transaction: it stands or falls with the change.

    `action` is `<resource>.<verb>` (`workflow.update`, `auth.sign_in_failed`); `details` says what
    changed (field names, new statuses), never secret values.
    """
    await repository.insert_as_service(
        session,
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "details": _redact(details or {}),
            "ip_address": meta.ip_address if meta else None,
            "user_agent": meta.user_agent if meta else None,
        },
    )


async def list_logs(
    session: AsyncSession,
    *,
    action: str | None = None,
    resource_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AuditLogPage:
    rows, total = await repository.list_logs(
        session,
        action=action,
        resource_type=resource_type,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return AuditLogPage(
        items=[AuditLog.model_validate(row) for row in rows], total=total, limit=limit, offset=offset
    )
