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
    # Days are UTC days, as every time the pages show is in UTC.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await executions_service.today(session, page.principal.user_id, since=midnight)
    # Home shows no total under its recent runs, so none is counted past the page.
    recent = await executions_service.list_executions(
        session, ExecutionFilters(), limit=RECENT_RUNS, count_limit=RECENT_RUNS
    )
    integrations = await integrations_service.list_integrations(session)
    context = {
        "today": today,
        "recent_runs": recent.items,
        "broken_integrations": [i for i in integrations if i.status in _BROKEN_INTEGRATION],
    }
    return render(request, "home/index.html", context, viewer=page.viewer)
