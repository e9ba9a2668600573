"""SQL for profiles and user_preferences (as the user: RLS keeps it to their own rows)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.db.tables import profiles, user_preferences

_PREFERENCE_COLUMNS = (
    user_preferences.c.preference_key.label("key"),
    user_preferences.c.preference_value.label("value"),
    user_preferences.c.created_at,
    user_preferences.c.updated_at,
)


async def get_profile(session: AsyncSession, user_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(select(profiles).where(profiles.c.id == user_id))).one_or_none()


async def update_profile(
    session: AsyncSession, user_id: uuid.UUID, changes: dict[str, Any]
) -> Row[Any] | None:
    statement = update(profiles).where(profiles.c.id == user_id).values(**changes).returning(profiles)
    row: Row[Any] | None = (await session.execute(statement)).one_or_none()
    return row


async def list_preferences(session: AsyncSession) -> Sequence[Row[Any]]:
    statement = select(*_PREFERENCE_COLUMNS).order_by(user_preferences.c.preference_key)
    return (await session.execute(statement)).all()


async def get_preference(session: AsyncSession, key: str) -> Row[Any] | None:
    statement = select(*_PREFERENCE_COLUMNS).where(user_preferences.c.preference_key == key)
    return (await session.execute(statement)).one_or_none()


async def set_preference(session: AsyncSession, user_id: uuid.UUID, key: str, value: Any) -> Row[Any]:
    new_row = insert(user_preferences).values(
        id=uuid.uuid4(), user_id=user_id, preference_key=key, preference_value=value
    )
    upsert = new_row.on_conflict_do_update(
        index_elements=[user_preferences.c.user_id, user_preferences.c.preference_key],
        set_={"preference_value": new_row.excluded.preference_value},
    ).returning(*_PREFERENCE_COLUMNS)
    return (await session.execute(upsert)).one()


async def delete_preference(session: AsyncSession, key: str) -> bool:
    statement = (
        delete(user_preferences)
        .where(user_preferences.c.preference_key == key)
        .returning(user_preferences.c.id)
    )
    return (await session.execute(statement)).first() is not None
