"""Templates: the gallery of ready-made workflows."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.templates import service as templates_service
from autofy.templates.repository import TemplateFilters
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()


@router.get("/templates")
async def gallery(request: Request, page: SignedInPage, session: PageSession) -> Response:
    templates = await templates_service.list_templates(session, TemplateFilters(), limit=100)
    return render(request, "templates/gallery.html", {"templates": templates}, viewer=page.viewer)
