"""Workflows: the list, and one workflow's trigger and steps (the builder grows from here)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render
from autofy.workflows import service as workflows_service
from autofy.workflows.repository import WorkflowFilters
from autofy.workflows.schemas import WorkflowStatus

router = APIRouter()


@router.get("/workflows")
async def list_workflows(
    request: Request, page: SignedInPage, session: PageSession, status: WorkflowStatus | None = None
) -> Response:
    workflows = await workflows_service.list_workflows(session, WorkflowFilters(status=status), limit=100)
    return render(request, "workflows/list.html", {"workflows": workflows}, viewer=page.viewer)


@router.get("/workflows/{workflow_id}")
async def show_workflow(
    request: Request, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    # Another user's workflow is invisible under RLS: WorkflowNotFound, the not-found page.
    workflow = await workflows_service.get_workflow(session, workflow_id)
    return render(request, "workflows/show.html", {"workflow": workflow}, viewer=page.viewer)
