"""Runs: the history, newest first, and one run with each step's result."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from autofy.executions.schemas import ExecutionStatus
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()


@router.get("/runs")
async def list_runs(
    request: Request, page: SignedInPage, session: PageSession, status: ExecutionStatus | None = None
) -> Response:
    runs = await executions_service.list_executions(session, ExecutionFilters(status=status), limit=50)
    return render(request, "runs/list.html", {"runs": runs, "status": status}, viewer=page.viewer)


@router.get("/runs/{execution_id}")
async def show_run(
    request: Request, execution_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    run = await executions_service.get_execution(session, execution_id)
    return render(request, "runs/show.html", {"run": run}, viewer=page.viewer)
