"""Home: how the account is doing today, and what needs attention, each linking to its fix."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from autofy.integrations import service as integrations_service
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()

RECENT_RUNS = 8
# Integrations in these states make their workflows fail until reconnected.
_BROKEN_INTEGRATION = frozenset({"error", "expired"})


@router.get("/")
async def home(request: Request, page: SignedInPage, session: PageSession) -> Response:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    async def runs_today(status: str) -> int:
        filters = ExecutionFilters(status=status, started_after=today)
        return (await executions_service.list_executions(session, filters, limit=1)).total

    dashboard = await executions_service.dashboard(session, page.principal.user_id)
    recent = await executions_service.list_executions(session, ExecutionFilters(), limit=RECENT_RUNS)
    integrations = await integrations_service.list_integrations(session)
    context = {
        "dashboard": dashboard,
        "completed_today": await runs_today("completed"),
        "failed_today": await runs_today("failed"),
        "recent_runs": recent.items,
        "broken_integrations": [i for i in integrations if i.status in _BROKEN_INTEGRATION],
    }
    return render(request, "home/index.html", context, viewer=page.viewer)
