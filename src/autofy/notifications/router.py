"""Your notifications over the API: list, unread count, mark read."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from autofy.auth.dependencies import ReadPrincipal, UserSession, WritePrincipal
from autofy.dependencies import Offset
from autofy.errors import error_responses
from autofy.notifications import service
from autofy.notifications.schemas import MarkedRead, Notification, NotificationPage, UnreadCount

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage, summary="Your notifications, newest first")
async def list_notifications(
    _: ReadPrincipal,
    session: UserSession,
    unread: Annotated[bool, Query(description="Only the ones not read yet.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> NotificationPage:
    return await service.list_notifications(session, unread_only=unread, limit=limit, offset=offset)


@router.get("/unread-count", response_model=UnreadCount, summary="How many notifications are unread")
async def unread_count(_: ReadPrincipal, session: UserSession) -> UnreadCount:
    return UnreadCount(unread=await service.count_unread(session))


@router.post("/read", response_model=MarkedRead, summary="Mark all your notifications read")
async def mark_all_read(_: WritePrincipal, session: UserSession) -> MarkedRead:
    return await service.mark_all_read(session)


@router.post(
    "/{notification_id}/read",
    response_model=Notification,
    responses=error_responses(404),
    summary="Mark one notification read",
)
async def mark_read(notification_id: uuid.UUID, _: WritePrincipal, session: UserSession) -> Notification:
    return await service.mark_read(session, notification_id)
