"""HTTP routes of workflow templates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from autofy.auth.dependencies import Principal, RequestMeta, UserSession, require
from autofy.dependencies import Offset
from autofy.errors import error_responses
from autofy.templates import service
from autofy.templates.repository import TemplateFilters
from autofy.templates.schemas import Difficulty, Template, TemplateInstantiate, TemplatePage
from autofy.workflows.schemas import Workflow

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])

Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]


@router.get("", response_model=TemplatePage)
async def list_templates(
    principal: Reader,
    session: UserSession,
    category: Annotated[str | None, Query(max_length=50)] = None,
    difficulty: Difficulty | None = None,
    featured: bool | None = None,
    integration: Annotated[
        str | None, Query(max_length=50, description="Only templates that use this service.")
    ] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the name or description.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
) -> TemplatePage:
    """Workflow templates, featured first, then the most used."""
    filters = TemplateFilters(
        category=category, difficulty=difficulty, featured=featured, integration=integration, search=search
    )
    return await service.list_templates(session, filters, limit=limit, offset=offset)


@router.get("/{template_id}", response_model=Template, responses=error_responses(404))
async def get_template(template_id: uuid.UUID, principal: Reader, session: UserSession) -> Template:
    """One template with its workflow document and the inputs it asks for."""
    return await service.get_template(session, template_id)


@router.post(
    "/{template_id}/instantiate",
    status_code=status.HTTP_201_CREATED,
    response_model=Workflow,
    responses=error_responses(404, 422),
)
async def instantiate_template(
    template_id: uuid.UUID,
    body: TemplateInstantiate,
    principal: Writer,
    session: UserSession,
    meta: RequestMeta,
) -> Workflow:
    """Create a draft workflow from the template, filling in its inputs; 422 names missing ones."""
    return await service.instantiate(session, principal.user_id, template_id, body, meta=meta)
