"""The caller's profile and preferences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Response

from autofy.auth.dependencies import ReadPrincipal, RequestMeta, UserSession, WritePrincipal
from autofy.errors import error_responses
from autofy.profiles import service
from autofy.profiles.schemas import (
    PREFERENCE_KEY_PATTERN,
    Preference,
    PreferenceWrite,
    Profile,
    ProfileUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["profile"])

PreferenceKey = Annotated[
    str,
    Path(
        pattern=PREFERENCE_KEY_PATTERN,
        description="Lowercase letters, digits, `_`, `.`, `-`; starts with a letter; at most 64.",
    ),
]


@router.get("/profile", response_model=Profile, responses=error_responses(404), summary="Your profile")
async def get_profile(principal: ReadPrincipal, session: UserSession) -> Profile:
    return await service.get_profile(session, principal)


@router.patch(
    "/profile",
    response_model=Profile,
    responses=error_responses(404),
    summary="Change your name, avatar, time zone or onboarding state",
    description="Plan and credits are not writable: sending them is a 422 naming the field.",
)
async def update_profile(
    body: ProfileUpdate, principal: WritePrincipal, session: UserSession, meta: RequestMeta
) -> Profile:
    return await service.update_profile(session, principal, body, meta=meta)


@router.get("/preferences", response_model=list[Preference], summary="All your preferences")
async def list_preferences(_: ReadPrincipal, session: UserSession) -> Sequence[Preference]:
    return await service.list_preferences(session)


@router.get(
    "/preferences/{key}", response_model=Preference, responses=error_responses(404), summary="One preference"
)
async def get_preference(key: PreferenceKey, _: ReadPrincipal, session: UserSession) -> Preference:
    return await service.get_preference(session, key)


@router.put("/preferences/{key}", response_model=Preference, summary="Set a preference (any JSON value)")
async def set_preference(
    key: PreferenceKey,
    body: PreferenceWrite,
    principal: WritePrincipal,
    session: UserSession,
    meta: RequestMeta,
) -> Preference:
    return await service.set_preference(session, principal, key, body.value, meta=meta)


@router.delete(
    "/preferences/{key}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
    summary="Delete a preference",
)
async def delete_preference(
    key: PreferenceKey, principal: WritePrincipal, session: UserSession, meta: RequestMeta
) -> None:
    await service.delete_preference(session, principal, key, meta=meta)
