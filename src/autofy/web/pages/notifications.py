"""Notifications: the list behind the bell, mark one or all read."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from autofy.notifications import service as notifications_service
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()


@router.get("/notifications")
async def list_notifications(
    request: Request, page: SignedInPage, session: PageSession, unread: bool = False
) -> Response:
    notifications = await notifications_service.list_notifications(session, unread_only=unread, limit=100)
    context = {"notifications": notifications, "unread_only": unread}
    return render(request, "notifications/list.html", context, viewer=page.viewer)


@router.post("/notifications/read")
async def mark_all_read(session: PageSession) -> Response:
    await notifications_service.mark_all_read(session)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id}/read")
async def mark_read(notification_id: uuid.UUID, session: PageSession) -> Response:
    await notifications_service.mark_read(session, notification_id)
    return RedirectResponse("/notifications", status_code=303)
