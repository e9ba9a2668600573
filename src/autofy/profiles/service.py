"""The caller's profile and preferences."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit import service as audit
from autofy.audit.schemas import RequestInfo
from autofy.auth.schemas import Principal
from autofy.errors import NotFoundError
from autofy.profiles import repository
from autofy.profiles.schemas import (
    NOTIFICATIONS_KEY,
    NotificationSettings,
    Preference,
    Profile,
    ProfileUpdate,
)


async def get_profile(session: AsyncSession, principal: Principal) -> Profile:
    row = await repository.get_profile(session, principal.user_id)
    if row is None:
        raise NotFoundError("The profile does not exist.")
    return Profile.model_validate(row)


async def update_profile(
    session: AsyncSession, principal: Principal, changes: ProfileUpdate, *, meta: RequestInfo
) -> Profile:
    values = changes.model_dump(mode="json", include=changes.model_fields_set)
    if not values:
        return await get_profile(session, principal)
    row = await repository.update_profile(session, principal.user_id, values)
    if row is None:
        raise NotFoundError("The profile does not exist.")
    await audit.record(
        session,
        user_id=principal.user_id,
        action="profile.update",
        resource_type="profile",
        resource_id=principal.user_id,
        details={"fields": sorted(values)},
        meta=meta,
    )
    return Profile.model_validate(row)


async def list_preferences(session: AsyncSession) -> Sequence[Preference]:
    return [Preference.model_validate(row) for row in await repository.list_preferences(session)]


async def get_preference(session: AsyncSession, key: str) -> Preference:
    row = await repository.get_preference(session, key)
    if row is None:
        raise NotFoundError(f"You have no preference {key!r}.")
    return Preference.model_validate(row)


async def set_preference(
    session: AsyncSession, principal: Principal, key: str, value: JsonValue, *, meta: RequestInfo
) -> Preference:
    row = await repository.set_preference(session, principal.user_id, key, value)
    # The key only: a preference's value is the user's business, not the audit trail's.
    await audit.record(
        session,
        user_id=principal.user_id,
        action="preference.set",
        resource_type="preference",
        details={"key": key},
        meta=meta,
    )
    return Preference.model_validate(row)


async def delete_preference(
    session: AsyncSession, principal: Principal, key: str, *, meta: RequestInfo
) -> None:
    if not await repository.delete_preference(session, key):
        raise NotFoundError(f"You have no preference {key!r}.")
    await audit.record(
        session,
        user_id=principal.user_id,
        action="preference.delete",
        resource_type="preference",
        details={"key": key},
        meta=meta,
    )


async def notification_settings(session: AsyncSession) -> NotificationSettings:
    """What the user wants to be told, and how: the defaults for whatever the preference does not
    say (or says with something other than true/false, as `PUT /preferences/notifications` allows)."""
    row = await repository.get_preference(session, NOTIFICATIONS_KEY)
    stored = row.value if row is not None and isinstance(row.value, dict) else {}
    known = NotificationSettings.model_fields
    return NotificationSettings(**{k: v for k, v in stored.items() if k in known and isinstance(v, bool)})


async def set_notification_settings(
    session: AsyncSession, principal: Principal, settings: NotificationSettings, *, meta: RequestInfo
) -> NotificationSettings:
    await set_preference(session, principal, NOTIFICATIONS_KEY, settings.model_dump(), meta=meta)
    return settings
