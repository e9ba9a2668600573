"""Integrations: the services connected to the account, and their state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.integrations import service as integrations_service
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()


@router.get("/integrations")
async def list_integrations(request: Request, page: SignedInPage, session: PageSession) -> Response:
    integrations = await integrations_service.list_integrations(session)
    return render(request, "integrations/list.html", {"integrations": integrations}, viewer=page.viewer)
