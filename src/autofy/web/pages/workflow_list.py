"""The workflows list: search, tag and status filters, pages, and an active switch per row.

The switch calls the workflow service's `set_status` as the API does; when activation is refused
(the service's rules: every step valid, every service connected) the row shows why and where to
fix it. The builder (/workflows/{id}) lives in pages/workflows.py.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from autofy.auth.dependencies import RequestMeta
from autofy.connectors.catalog import catalog
from autofy.errors import DomainError, ErrorDetail
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render
from autofy.workflows import service as workflows_service
from autofy.workflows.repository import WorkflowFilters
from autofy.workflows.router import Hooks
from autofy.workflows.schemas import Workflow, WorkflowStatus, WorkflowSummary

router = APIRouter()

PAGE_SIZE = 20
STATUSES: tuple[WorkflowStatus, ...] = ("active", "draft", "paused", "archived")
_STEP_FIELD = re.compile(r"steps\.(\d+)\.(.+)")
# The service's messages name the API call that fixes a problem; the page links to the fix instead.
_API_HINT = re.compile(r" \((?:GET|POST|PATCH|PUT|DELETE) /api/[^)]*\)")


@dataclass(frozen=True)
class Problem:
    """Why a workflow cannot be switched on, where, and the page that fixes it."""

    where: str
    message: str
    fix_href: str
    fix_label: str


@router.get("/workflows")
async def list_workflows(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    search: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    status: WorkflowStatus | Literal[""] = "",  # "": any (the filter form's first option)
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    filters = WorkflowFilters(status=status or None, tag=tag or None, search=search.strip() or None)
    workflows = await workflows_service.list_workflows(
        session, filters, sort="updated_at", limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
    )
    filter_values = {"search": search, "tag": tag, "status": status}

    def page_href(number: int) -> str:
        query = {key: value for key, value in filter_values.items() if value} | {"page": str(number)}
        return "/workflows?" + urlencode(query)

    page_count = max(1, math.ceil(workflows.total / PAGE_SIZE))
    if page_number > page_count:  # a page past the end (workflows were removed): the last one
        return RedirectResponse(page_href(page_count), status_code=303)
    context = {
        "workflows": workflows.items,
        "total": workflows.total,
        "filters": filter_values,
        "filtered": any(filter_values.values()),
        "tags": await workflows_service.list_tags(session),
        "statuses": STATUSES,
        "page_number": page_number,
        "page_count": page_count,
        "page_href": page_href,
        "problems": {},
    }
    return render(request, "workflows/list.html", context, viewer=page.viewer)


@router.post("/workflows/{workflow_id}/active")
async def switch_active(
    request: Request,
    workflow_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    hooks: Hooks,
    active: Annotated[str | None, Form()] = None,
) -> Response:
    """On: activate (draft or paused); off: pause. htmx gets the row back, refusals shown on it."""
    wanted: WorkflowStatus = "active" if active else "paused"
    problems: list[Problem] = []
    try:
        # A savepoint: a refusal raised after a write (a trigger's set-up) leaves nothing behind.
        async with session.begin_nested():
            await workflows_service.set_status(
                session, page.principal.user_id, workflow_id, wanted, meta=meta, hooks=hooks
            )
    except DomainError as error:
        workflow = await workflows_service.get_workflow(session, workflow_id)  # 404 stays a 404
        problems = _problems(workflow, error)
    if not request.headers.get("hx-request"):
        if not problems:
            return RedirectResponse("/workflows", status_code=303)
        return await _refused_page(request, page, session, workflow_id, problems)
    summary = await workflows_service.get_workflow(session, workflow_id)
    context = {"workflow": summary, "problems": {workflow_id: problems}}
    return render(request, "workflow_list/_row.html", context, viewer=page.viewer)


async def _refused_page(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    workflow_id: uuid.UUID,
    problems: list[Problem],
) -> Response:
    # Without script: the one workflow's row on a page of its own, with what to fix.
    summary: WorkflowSummary = await workflows_service.get_workflow(session, workflow_id)
    context = {
        "workflows": [summary],
        "total": 1,
        "filters": {"search": "", "tag": "", "status": ""},
        "filtered": False,
        "tags": [],
        "statuses": STATUSES,
        "page_number": 1,
        "page_count": 1,
        "page_href": lambda number: "/workflows",
        "problems": {workflow_id: problems},
    }
    return render(request, "workflows/list.html", context, viewer=page.viewer, status_code=422)


def _problems(workflow: Workflow, error: DomainError) -> list[Problem]:
    builder = f"/workflows/{workflow.id}"
    if not error.details:
        return [Problem("", error.message, builder, "Open the workflow")]
    return [_problem(workflow, detail) for detail in error.details]


def _problem(workflow: Workflow, detail: ErrorDetail) -> Problem:
    builder = f"/workflows/{workflow.id}"
    match = _STEP_FIELD.fullmatch(detail["field"])
    message = _API_HINT.sub("", detail["message"])
    if match is None:
        return Problem(detail["field"].replace("_", " "), message, builder, "Fix it in the builder")
    index, field = int(match[1]), match[2]
    service = workflow.steps[index].service_name if index < len(workflow.steps) else ""
    if field == "service_name" and _requires_integration(service):
        return Problem(f"Step {index + 1}", message, f"/integrations#service-{service}", f"Connect {service}")
    where = f"Step {index + 1}: {field.removeprefix('configuration.').replace('_', ' ')}"
    return Problem(where, message, f"{builder}#step-{index + 1}", "Fix it in the builder")


def _requires_integration(service_name: str) -> bool:
    return any(c.service_name == service_name and c.requires_integration for c in catalog().connectors)
