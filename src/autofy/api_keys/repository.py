"""SQL for api_keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.tables import API_KEY_USER_COLUMNS, api_keys, profiles, users


async def find_by_prefix(session: AsyncSession, prefix: str) -> Sequence[Row[Any]]:
    """Every key with this prefix, its owner's email and until when the owner is banned. Run as the
    service role: the caller is not known yet (finding out is the point), so no user's RLS can apply."""
    statement = (
        select(
            api_keys.c.id,
            api_keys.c.user_id,
            api_keys.c.key_hash,
            api_keys.c.permissions,
            api_keys.c.expires_at,
            api_keys.c.is_active,
            profiles.c.email,
            users.c.banned_until,
        )
        .join(profiles, profiles.c.id == api_keys.c.user_id)
        .join(users, users.c.id == api_keys.c.user_id)
        .where(api_keys.c.key_prefix == prefix)
    )
    return (await session.execute(statement)).all()


async def record_use(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Service role: usage counters are not the user's to write (column privileges say so)."""
    await session.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(last_used_at=func.now(), usage_count=api_keys.c.usage_count + 1)
    )


async def insert_key(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    name: str,
    prefix: str,
    key_hash: str,
    permissions: list[str],
    expires_at: datetime | None,
) -> Row[Any] | None:
    """The new key, or None when the user already has a key with this name."""
    key_id = uuid.uuid4()
    result = await session.execute(
        insert(api_keys)
        .values(
            id=key_id,
            user_id=user_id,
            key_name=name,
            key_prefix=prefix,
            key_hash=key_hash,
            permissions=permissions,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[api_keys.c.user_id, api_keys.c.key_name])
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return None
    # Read back separately: RETURNING would need SELECT on key_hash, which users do not have.
    row = await get_key(session, key_id)
    assert row is not None
    return row


async def list_keys(session: AsyncSession) -> Sequence[Row[Any]]:
    statement = select(*API_KEY_USER_COLUMNS).order_by(api_keys.c.created_at.desc(), api_keys.c.id)
    return (await session.execute(statement)).all()


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(*API_KEY_USER_COLUMNS).where(api_keys.c.id == key_id))).one_or_none()


async def deactivate(session: AsyncSession, key_id: uuid.UUID) -> str | None:
    """The key's name; None when no visible key has this id (it does not exist, or RLS hides
    someone else's)."""
    result = await session.execute(
        update(api_keys).where(api_keys.c.id == key_id).values(is_active=False).returning(api_keys.c.key_name)
    )
    name: str | None = result.scalar_one_or_none()
    return name
