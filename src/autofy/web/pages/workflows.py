"""Workflows: one workflow's trigger and steps (the builder grows from here; the list is in
workflow_list.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render
from autofy.workflows import service as workflows_service

router = APIRouter()


@router.get("/workflows/{workflow_id}")
async def show_workflow(
    request: Request, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    # Another user's workflow is invisible under RLS: WorkflowNotFound, the not-found page.
    workflow = await workflows_service.get_workflow(session, workflow_id)
    return render(request, "workflows/show.html", {"workflow": workflow}, viewer=page.viewer)
