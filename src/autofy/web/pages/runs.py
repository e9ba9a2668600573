"""Runs: the history (filtered, paged, live) and one run's timeline, with cancel, re-run and resume.

Live updates are server-sent events read by htmx's SSE extension. Every `POLL_SECONDS` a stream
checks the browser session again, reads the page's data in a short transaction of its own as the
signed-in user (RLS, as the page itself), and sends the re-rendered fragment only when it changed.
Between polls it holds no transaction and no connection. A user keeps at most
`MAX_STREAMS_PER_USER` streams open per process (a further one is told to retry later); a stream
ends when the browser goes away, when the session ends, when its run finishes, or when the server
begins to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response, StreamingResponse

from autofy.auth.dependencies import AppSettings, RequestMeta
from autofy.connectors.catalog import catalog
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.engine import service as engine_service
from autofy.engine.records import for_history
from autofy.errors import ConflictError, DomainError, PaymentRequiredError, ValidationFailedError
from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from autofy.executions.schemas import Execution, ExecutionStatus, ExecutionSummary
from autofy.pagination import Page
from autofy.web.dependencies import (
    PagePrincipal,
    PageSession,
    SignedInPage,
    SignInRequired,
    get_page_principal,
)
from autofy.web.rendering import environment, render
from autofy.web.security import csrf_token
from autofy.workflows import service as workflows_service

router = APIRouter()

PAGE_SIZE = 50
# Past this many matching runs the list says "more than": counting them all on every view (and
# every live update) would cost more than the rest of the page.
COUNT_LIMIT = 1000
# The workflow filter lists this many workflows by name (the one filtered on is always there).
WORKFLOW_CHOICES = 1000
POLL_SECONDS = 1.0
# A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
MAX_STREAMS_PER_USER = 4
# How long a browser refused a stream (too many open) waits before it asks again.
RETRY_REFUSED_MS = 30_000

Period = Literal["hour", "day", "week", "month"]
PERIODS: dict[Period, tuple[str, timedelta]] = {
    "hour": ("Past hour", timedelta(hours=1)),
    "day": ("Past 24 hours", timedelta(days=1)),
    "week": ("Past 7 days", timedelta(days=7)),
    "month": ("Past 30 days", timedelta(days=30)),
}
STATUSES: tuple[ExecutionStatus, ...] = ("running", "completed", "failed", "cancelled")


class RunQuery(BaseModel):
    """The list's filters and page, as the filter form and the pager links send them."""

    workflow: uuid.UUID | None = None
    status: ExecutionStatus | None = None
    period: Period | None = None
    cursor: str | None = Field(default=None, max_length=500)

    def filters(self, now: datetime) -> ExecutionFilters:
        started_after = now - PERIODS[self.period][1] if self.period is not None else None
        return ExecutionFilters(status=self.status, workflow_id=self.workflow, started_after=started_after)

    def query_string(self, *, cursor: str | None = None) -> str:
        """These filters (and `cursor`) as a URL query, for the pager and the event stream."""
        values = {"workflow": self.workflow, "status": self.status, "period": self.period, "cursor": cursor}
        return urlencode({key: str(value) for key, value in values.items() if value is not None})


# What each filter accepts, for the message when a hand-edited address has a value that is not.
_FILTER_VALUES = {
    "workflow": "the id of one of your workflows",
    "status": ", ".join(STATUSES),
    "period": ", ".join(PERIODS),
    "cursor": "what the Older runs button links to",
}


def _run_query(workflow: str = "", status: str = "", period: str = "", cursor: str = "") -> RunQuery:
    values = {"workflow": workflow, "status": status, "period": period, "cursor": cursor}
    try:
        # The filter form sends "All" as an empty value.
        return RunQuery.model_validate({key: value for key, value in values.items() if value})
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0])
        message = (
            f"The runs list cannot filter on {field}={values[field]!r}: it takes "
            f"{_FILTER_VALUES[field]}. Choose the filters again on the Runs page."
        )
        raise ValidationFailedError(
            message, details=[{"field": f"query.{field}", "message": message}]
        ) from None


RunQueryParams = Annotated[RunQuery, Depends(_run_query)]
PageDatabase = Annotated[Database, Depends(get_database)]


# --- the list -----------------------------------------------------------------------------------


async def _runs(session: AsyncSession, query: RunQuery) -> Page[ExecutionSummary]:
    return await executions_service.list_executions(
        session,
        query.filters(datetime.now(UTC)),
        limit=PAGE_SIZE,
        cursor=query.cursor,
        count_limit=COUNT_LIMIT + 1,
    )


def _results_context(query: RunQuery, runs: Page[ExecutionSummary]) -> dict[str, Any]:
    return {
        "runs": runs,
        "more_than": COUNT_LIMIT if runs.total > COUNT_LIMIT else None,
        "filtered": any((query.workflow, query.status, query.period)),
        "newest_href": f"/runs?{query.query_string()}" if query.cursor else None,
        "older_href": f"/runs?{query.query_string(cursor=runs.next_cursor)}" if runs.next_cursor else None,
    }


@router.get("/runs")
async def list_runs(
    request: Request, query: RunQueryParams, page: SignedInPage, session: PageSession
) -> Response:
    runs = await _runs(session, query)
    workflows = await workflows_service.list_workflow_names(session, limit=WORKFLOW_CHOICES)
    if query.workflow is not None and all(workflow_id != query.workflow for workflow_id, _ in workflows):
        chosen = await workflows_service.get_workflow(session, query.workflow)
        workflows.append((chosen.id, chosen.name))
    context = {
        "query": query,
        "workflows": workflows,
        "statuses": STATUSES,
        "periods": {key: label for key, (label, _) in PERIODS.items()},
        "events_url": f"/runs/events?{query.query_string(cursor=query.cursor)}",
        **_results_context(query, runs),
    }
    return render(request, "runs/list.html", context, viewer=page.viewer)


@router.get("/runs/events")
async def list_events(
    request: Request,
    query: RunQueryParams,
    principal: PagePrincipal,
    settings: AppSettings,
    database: PageDatabase,
) -> Response:
    async def fragment(session: AsyncSession) -> Fragment:
        runs = await _runs(session, query)
        return Fragment(
            event="runs",
            shows=runs,
            html=lambda: _fragment(request, "runs/_results.html", _results_context(query, runs)),
        )

    return _event_stream(request, principal, settings, database, fragment)


# --- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonView:
    """A step's input or output as the page shows it: pretty JSON, or the stored preview of a
    value too large to keep whole, with the size it had."""

    text: str
    truncated_from_bytes: int | None = None


@dataclass(frozen=True)
class StepView:
    title: str  # the action's display name
    service: str  # the service's display name
    status: str
    attempts: int
    duration: str
    started_at: str
    reused: bool
    input: JsonView
    output: JsonView | None
    error: str | None


def _json_view(value: Any) -> JsonView:
    if isinstance(value, dict) and set(value) == {"truncated_from_bytes", "preview"}:
        return JsonView(text=str(value["preview"]), truncated_from_bytes=int(value["truncated_from_bytes"]))
    return JsonView(text=json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _duration(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _step_names(service_name: str, action_name: str) -> tuple[str, str]:
    """The action's and the service's display names (the raw names for one the catalog lost)."""
    try:
        connector = catalog().connector(service_name)
        action = catalog().action(service_name, action_name)
    except DomainError:
        return action_name, service_name
    return action.display_name, connector.display_name


def _steps(run: Execution) -> list[StepView]:
    # A running run keeps its values whole for the steps after; shown, they are cut like history.
    return [
        StepView(
            title=action_title,
            service=service_title,
            status=result["status"],
            attempts=int(result.get("attempts") or 0),
            duration=_duration(result.get("duration_ms")),
            started_at=str(result.get("started_at") or ""),
            reused=bool(result.get("reused")),
            input=_json_view(result.get("input")),
            output=_json_view(result["output"]) if result.get("output") is not None else None,
            error=result.get("error"),
        )
        for result in for_history(run.step_results)
        for action_title, service_title in [_step_names(result["service_name"], result["action_name"])]
    ]


def _run_context(run: Execution) -> dict[str, Any]:
    return {
        "run": run,
        "steps": _steps(run),
        "duration": _duration(run.duration_seconds * 1000 if run.duration_seconds is not None else None),
        "trigger_data": _json_view(run.trigger_data),
        "rerun_of": run.metadata.get("rerun_of"),
        "resumed_from": run.metadata.get("resumed_from"),
        "test_run": bool(run.metadata.get("test_run")),
        "trigger_type": run.metadata.get("trigger_type", "manual"),
    }


async def _show(
    request: Request,
    page: SignedInPage,
    session: AsyncSession,
    execution_id: uuid.UUID,
    *,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    run = await executions_service.get_execution(session, execution_id)
    context = _run_context(run) | {"refusal": refusal}
    return render(request, "runs/show.html", context, viewer=page.viewer, status_code=status_code)


@router.get("/runs/{execution_id}")
async def show_run(
    request: Request, execution_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    return await _show(request, page, session, execution_id)


@router.get("/runs/{execution_id}/events")
async def run_events(
    request: Request,
    execution_id: uuid.UUID,
    principal: PagePrincipal,
    settings: AppSettings,
    database: PageDatabase,
) -> Response:
    # Not found (or another user's) is answered now, as a page, not in the middle of a stream.
    async with database.user_session(principal.claims) as session:
        await executions_service.get_execution(session, execution_id)

    async def fragment(session: AsyncSession) -> Fragment:
        run = await executions_service.get_execution(session, execution_id)
        # Step results are only ever appended: their number tells a change (no need to compare
        # outputs of up to 256 KB each, every second).
        shows = (run.execution_status, len(run.step_results), run.error_message, run.credits_used)
        return Fragment(
            event="run",
            shows=shows,
            html=lambda: _fragment(request, "runs/_run.html", _run_context(run) | {"refusal": None}),
            final=run.execution_status != "running",
        )

    return _event_stream(request, principal, settings, database, fragment)


# Refusals a user can act on (the run already ended, credits used up) are explained on the run's
# page; anything else (not found) gets its error page.
_EXPLAINED = (ConflictError, PaymentRequiredError)


async def _act(
    request: Request,
    page: SignedInPage,
    session: AsyncSession,
    execution_id: uuid.UUID,
    action: Callable[[], Awaitable[uuid.UUID]],
) -> Response:
    """Run `action` (it returns the run to show next) and go there; on a refusal, the run's page
    again with the reason. A savepoint undoes the refused action alone: the transaction, and
    with it the user's role and claims, stays for the page that explains."""
    try:
        async with session.begin_nested():
            shown = await action()
    except _EXPLAINED as error:
        return await _show(
            request, page, session, execution_id, refusal=error.message, status_code=error.status_code
        )
    return RedirectResponse(f"/runs/{shown}", status_code=303)


@router.post("/runs/{execution_id}/cancel")
async def cancel_run(
    request: Request, execution_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    async def cancel() -> uuid.UUID:
        await engine_service.cancel(
            session, execution_id=execution_id, actor=page.principal.user_id, meta=meta
        )
        return execution_id

    return await _act(request, page, session, execution_id, cancel)


@router.post("/runs/{execution_id}/rerun")
async def rerun_run(
    request: Request, execution_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    async def rerun() -> uuid.UUID:
        return await engine_service.rerun(
            session, execution_id=execution_id, actor=page.principal.user_id, meta=meta
        )

    return await _act(request, page, session, execution_id, rerun)


@router.post("/runs/{execution_id}/resume")
async def resume_run(
    request: Request, execution_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    async def resume() -> uuid.UUID:
        return await engine_service.resume(
            session, execution_id=execution_id, actor=page.principal.user_id, meta=meta
        )

    return await _act(request, page, session, execution_id, resume)


# --- live updates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fragment:
    """What a stream sends: the `event` the page swaps in, what it `shows` (compared with the last
    one sent: the HTML is rendered only when that changed), and whether it is the last."""

    event: str
    shows: object
    html: Callable[[], str]
    final: bool = False


# Streams open per user in this process (a dict, not a database row: a stream dies with its process).
_open_streams: Counter[uuid.UUID] = Counter()


def _fragment(request: Request, template: str, context: dict[str, Any]) -> str:
    settings = request.app.state.settings
    return environment.get_template(template).render({"csrf_token": csrf_token(request, settings), **context})


def _event(name: str, data: str = "", *, retry_ms: int | None = None) -> str:
    lines = [f"retry: {retry_ms}"] if retry_ms is not None else []
    lines.append(f"event: {name}")
    lines.extend(f"data: {line}" for line in (data.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


def _event_stream(
    request: Request,
    principal: PagePrincipal,
    settings: AppSettings,
    database: Database,
    fragment: Callable[[AsyncSession], Awaitable[Fragment]],
) -> Response:
    user_id = principal.user_id
    stopping: asyncio.Event = request.app.state.stopping

    async def events() -> AsyncIterator[str]:
        if _open_streams[user_id] >= MAX_STREAMS_PER_USER:
            message = "Live updates are paused: close another Autofy tab, or reload this page later."
            yield _event("paused", message, retry_ms=RETRY_REFUSED_MS)
            return
        _open_streams[user_id] += 1
        try:
            sent: object = None
            quiet_since = asyncio.get_running_loop().time()
            while not stopping.is_set():
                try:
                    # The session again, each time: signing out (or its expiry) ends the stream.
                    current = await get_page_principal(request, settings, database)
                except SignInRequired:
                    yield _event("signed-out")
                    return
                try:
                    async with database.user_session(current.claims) as session:
                        latest = await fragment(session)
                except DomainError:  # what it shows is gone (a deleted workflow takes its runs)
                    yield _event("done")
                    return
                now = asyncio.get_running_loop().time()
                if latest.shows != sent:
                    yield _event(latest.event, latest.html())
                    sent, quiet_since = latest.shows, now
                elif now - quiet_since >= KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    quiet_since = now
                if latest.final:
                    yield _event("done")
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
        finally:
            _open_streams[user_id] -= 1
            if _open_streams[user_id] <= 0:
                del _open_streams[user_id]

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
