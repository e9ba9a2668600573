"""Workflows: the builder (the list is in workflow_list.py) (docs/workflow-format.md as a form, see web/builder.py).

The builder's form posts as a whole: to save (`POST /workflows/new`, `POST /workflows/{id}`), and
through htmx as the user edits, for the problems of each field (`/workflows/builder/check`, the
API's own validator), a step card for another action (`…/card`), the trigger card for another
trigger (`…/trigger`) and the data picker (`…/picker`). Writing goes through the same services as
the API, so all its rules apply.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from autofy.auth.dependencies import RequestMeta
from autofy.connectors.catalog import catalog
from autofy.engine import service as engine_service
from autofy.errors import DomainError, ErrorDetail, ValidationFailedError
from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from autofy.executions.schemas import Execution
from autofy.integrations import service as integrations_service
from autofy.triggers import service as triggers_service
from autofy.triggers.schedule import next_fire_times
from autofy.web import builder
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render
from autofy.workflows import service as workflows_service
from autofy.workflows.router import get_status_hooks
from autofy.workflows.schemas import WorkflowDocument, WorkflowStatus

router = APIRouter()


NOTICES = {
    "saved": "Saved.",
    "tested": "Saved; the test run has started. Each step's result appears on its card.",
    "imported": "Imported as a draft. Check each step, then activate it.",
    "activated": "Activated: the workflow now runs when its trigger fires.",
    "paused": "Paused: the trigger no longer starts runs until you activate it again.",
}
TIMEZONES = tuple(sorted(available_timezones()))
_SCHEDULE_PREVIEWS = 5


def _render(
    request: Request, template: str, context: dict[str, Any], *, viewer: Any, status_code: int = 200
) -> Response:
    """A builder template: its macros read `builder` (web/builder.py) for slots, fields and rules."""
    return render(request, template, {"builder": builder, **context}, viewer=viewer, status_code=status_code)


async def _latest_run(session: AsyncSession, workflow_id: uuid.UUID | None) -> Execution | None:
    if workflow_id is None:
        return None
    runs = await executions_service.list_executions(
        session, ExecutionFilters(workflow_id=workflow_id), limit=1
    )
    return await executions_service.get_execution(session, runs.items[0].id) if runs.items else None


def _schedule_preview(draft: builder.Draft) -> list[str]:
    """The next fire times of a scheduled draft; none when its schedule cannot be read (the
    validator's problem on the trigger says why)."""
    if draft.trigger_kind != "scheduled":
        return []
    try:
        times = next_fire_times(draft.trigger_config, _SCHEDULE_PREVIEWS)
    except ValueError:
        return []
    return [moment.strftime("%a %b %-d %Y, %H:%M %Z") for moment in times]


def _catalog_choices() -> list[dict[str, Any]]:
    return [
        {
            "name": service.service_name,
            "label": service.display_name,
            "actions": service.actions,
            "requires_integration": service.requires_integration,
        }
        for service in catalog().describe().services
        if service.actions
    ]


async def _builder(
    request: Request,
    page: SignedInPage,
    session: AsyncSession,
    draft: builder.Draft,
    *,
    problems: list[ErrorDetail] | None = None,
    message: str | None = None,
    notice: str | None = None,
    import_problems: list[ErrorDetail] | None = None,
    status_code: int = 200,
) -> Response:
    integrations = await integrations_service.list_integrations(session)
    run = await _latest_run(session, draft.workflow_id)
    if not draft.sample:
        draft.sample = (
            json.dumps(run.trigger_data, indent=2) if run else builder.sample_for(draft.trigger_kind)
        )
    webhook = None
    if draft.workflow_id is not None and draft.trigger_kind == "webhook":
        settings = request.app.state.settings
        webhook = await triggers_service.webhook_endpoint(
            session, draft.workflow_id, public_url=settings.external_url
        )
    schedule_times = _schedule_preview(draft)
    context = {
        "draft": draft,
        "problems": builder.place_problems(draft, problems or []),
        "integrations": integrations,
        "services": _catalog_choices(),
        "trigger_choices": builder.TRIGGER_CHOICES,
        "timezones": TIMEZONES,
        "webhook": webhook,
        "run": run,
        "results": builder.results_by_card(draft, run.step_results) if run else {},
        "schedule_times": schedule_times,
        "message": message,
        "notice": NOTICES.get(notice or ""),
        "import_problems": import_problems or [],
    }
    return _render(request, "workflows/builder.html", context, viewer=page.viewer, status_code=status_code)


def _card_context(draft: builder.Draft, integrations: list[Any]) -> dict[str, Any]:
    return {
        "draft": draft,
        "problems": {},
        "integrations": integrations,
        "services": _catalog_choices(),
        "results": {},
    }


@router.get("/workflows/new")
async def new_workflow(request: Request, page: SignedInPage, session: PageSession) -> Response:
    return await _builder(request, page, session, builder.Draft())


@router.post("/workflows/new")
async def create_workflow(
    request: Request, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    form = await request.form()
    draft = builder.from_form(form)
    return await _save(request, page, session, meta, draft, str(form.get("intent", "save")))


@router.post("/workflows/import")
async def import_workflow(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    document_file: Annotated[UploadFile, File()],
) -> Response:
    problems: list[ErrorDetail] = []
    try:
        document = WorkflowDocument.model_validate_json(await document_file.read())
        async with session.begin_nested():
            workflow = await workflows_service.import_workflow(
                session, page.principal.user_id, document, meta=meta
            )
    except ValidationError as error:
        problems = [
            {"field": ".".join(str(part) for part in problem["loc"]), "message": problem["msg"]}
            for problem in error.errors()
        ]
        message = "This file is not a workflow export (docs/workflow-format.md); nothing was imported."
    except DomainError as error:
        problems, message = list(error.details), error.message
    else:
        return RedirectResponse(f"/workflows/{workflow.id}?notice=imported", status_code=303)
    return await _import_failed(request, page, session, message, problems)


async def _import_failed(
    request: Request, page: SignedInPage, session: AsyncSession, message: str, problems: list[ErrorDetail]
) -> Response:
    return await _builder(
        request, page, session, builder.Draft(), message=message, import_problems=problems, status_code=422
    )


@router.get("/workflows/builder/new-step")
async def new_step(request: Request, page: SignedInPage, session: PageSession) -> Response:
    """A blank step card (and the add button after it), inserted where the user asked."""
    integrations = await integrations_service.list_integrations(session)
    draft = builder.Draft(steps=[builder.StepDraft(builder.new_key())])
    context = _card_context(draft, integrations) | {"step": draft.steps[0], "with_insert": True}
    return _render(request, "workflows/_step.html", context, viewer=page.viewer)


@router.post("/workflows/builder/card")
async def step_card(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    card: Annotated[str, Query(max_length=40)],
    edit: Annotated[str | None, Query(pattern="^(add-rule|add-group|remove)$")] = None,
    tree: Annotated[str, Query(pattern="^(conditions|configuration)$")] = "conditions",
    path: Annotated[str, Query(max_length=100, pattern=r"^[0-9.]*$")] = "",
) -> Response:
    """One step card again, for the action now chosen, or after a change to its conditions."""
    draft = builder.from_form(await request.form())
    step = next((s for s in draft.steps if s.key == card), None)
    if step is None:
        raise ValidationFailedError("This step is not in the form any more; reload the page.")
    if edit is not None:
        indexes = [int(part) for part in path.split(".") if part]
        setattr(step, tree, builder.edit_rules(getattr(step, tree), indexes, edit))
    integrations = await integrations_service.list_integrations(session)
    # The card keeps showing its step's result in the latest run.
    run = await _latest_run(session, draft.workflow_id)
    results = builder.results_by_card(draft, run.step_results) if run else {}
    context = _card_context(draft, integrations) | {"step": step, "with_insert": False, "results": results}
    return _render(request, "workflows/_step.html", context, viewer=page.viewer)


@router.post("/workflows/builder/trigger")
async def trigger_card(request: Request, page: SignedInPage, session: PageSession) -> Response:
    """The trigger card again, for the trigger now chosen."""
    form = await request.form()
    draft = builder.from_form(form)
    if form.get("trigger.rendered") != draft.trigger_kind:
        draft.sample = builder.sample_for(draft.trigger_kind)
    integrations = await integrations_service.list_integrations(session)
    schedule_times = _schedule_preview(draft)
    context = _card_context(draft, integrations) | {
        "trigger_choices": builder.TRIGGER_CHOICES,
        "timezones": TIMEZONES,
        "webhook": None,
        "schedule_times": schedule_times,
    }
    return _render(request, "workflows/_trigger.html", context, viewer=page.viewer)


@router.post("/workflows/builder/check")
async def check(request: Request, page: SignedInPage, session: PageSession) -> Response:
    """Every problem of the form as it is now, each shown on its field (out-of-band swaps)."""
    draft = builder.from_form(await request.form())
    problems = builder.header_problems(draft)
    document, refused = builder.document_or_problems(draft, name="Untitled")
    problems += refused
    warnings: list[ErrorDetail] = []
    if document is not None:
        found = await workflows_service.document_problems(
            session, document.trigger_type, document.trigger_config, document.ordered_steps()
        )
        problems += workflows_service.problem_details([p for p in found if p.level != "warning"])
        warnings = workflows_service.problem_details([p for p in found if p.level == "warning"])
    placed = builder.place_problems(draft, problems)
    schedule_times = _schedule_preview(draft)
    context = {
        "draft": draft,
        "problems": placed,
        "warnings": builder.place_problems(draft, warnings, of_form=False),
        "slots": builder.slots(draft),
        "count": sum(len(messages) for messages in placed.values()),
        "schedule_times": schedule_times,
    }
    return _render(request, "workflows/_check.html", context, viewer=page.viewer)


@router.post("/workflows/builder/picker")
async def picker(
    request: Request, page: SignedInPage, session: PageSession, card: Annotated[str, Query(max_length=40)]
) -> Response:
    """The data the step card `card` can insert: trigger fields and earlier steps' outputs."""
    draft = builder.from_form(await request.form())
    run = await _latest_run(session, draft.workflow_id)
    outputs = builder.outputs_by_card(draft, run.step_results) if run else {}
    groups = builder.references(draft, card, outputs)
    return _render(request, "workflows/_picker.html", {"groups": groups, "card": card}, viewer=page.viewer)


@router.get("/workflows/{workflow_id}")
async def show_workflow(
    request: Request,
    workflow_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    # Another user's workflow is invisible under RLS: WorkflowNotFound, the not-found page.
    workflow = await workflows_service.get_workflow(session, workflow_id)
    return await _builder(request, page, session, builder.from_workflow(workflow), notice=notice)


@router.post("/workflows/{workflow_id}")
async def save_workflow(
    request: Request, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    form = await request.form()
    draft = builder.from_form(form)
    draft.workflow_id = workflow_id
    return await _save(request, page, session, meta, draft, str(form.get("intent", "save")))


async def _save(
    request: Request,
    page: SignedInPage,
    session: AsyncSession,
    meta: RequestMeta,
    draft: builder.Draft,
    intent: str,
) -> Response:
    """Create or replace the workflow from the form; with intent `test`, then start a test run
    with the sample trigger data. Problems send the form back with each on its field."""
    problems = builder.header_problems(draft)
    document, refused = builder.document_or_problems(draft)
    problems += refused
    try:
        payload = json.loads(draft.sample) if intent == "test" and draft.sample else {}
    except json.JSONDecodeError as error:
        problems.append(
            {"field": "sample", "message": f"The sample is not valid JSON ({error.msg}); fix it to test."}
        )
        payload = {}
    if not isinstance(payload, dict):
        problems.append(
            {"field": "sample", "message": 'The sample must be a JSON object, e.g. {"text": "hi"}.'}
        )
    if document is None or problems or draft.form_errors or draft.unfinished():
        return await _builder(
            request,
            page,
            session,
            draft,
            problems=problems,
            message="Nothing was saved: fix the marked fields, then save again.",
            status_code=422,
        )
    user_id = page.principal.user_id
    if draft.workflow_id is not None:
        await _keep_signing_secret(session, draft, document)
    try:
        async with session.begin_nested():
            if draft.workflow_id is None:
                workflow = await workflows_service.create_workflow(session, user_id, document, meta=meta)
            else:
                workflow = await workflows_service.replace_workflow(
                    session,
                    user_id,
                    draft.workflow_id,
                    document,
                    draft.step_ids(),
                    meta=meta,
                    hooks=get_status_hooks(request),
                )
            if intent == "test":
                await engine_service.run_workflow(
                    session, workflow_id=workflow.id, payload=payload, actor=user_id, meta=meta
                )
    except DomainError as error:
        return await _builder(
            request,
            page,
            session,
            draft,
            problems=list(error.details),
            message=error.message,
            status_code=error.status_code,
        )
    notice = "tested" if intent == "test" else "saved"
    return RedirectResponse(f"/workflows/{workflow.id}?notice={notice}", status_code=303)


async def _keep_signing_secret(
    session: AsyncSession, draft: builder.Draft, document: WorkflowDocument
) -> None:
    """A webhook's own signing secret (set through the API) is never sent to the page: keep it
    while the form still asks for signed deliveries."""
    current = await workflows_service.get_workflow(session, draft.workflow_id) if draft.workflow_id else None
    secret = current.trigger_config.get("signing_secret") if current else None
    if secret and draft.trigger_kind == "webhook" and document.trigger_config.get("require_signature"):
        document.trigger_config = {"signing_secret": secret}


@router.post("/workflows/{workflow_id}/activate")
async def activate_workflow(
    request: Request, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    return await _change_status(request, workflow_id, page, session, meta, "active", "activated")


@router.post("/workflows/{workflow_id}/pause")
async def pause_workflow(
    request: Request, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    return await _change_status(request, workflow_id, page, session, meta, "paused", "paused")


async def _change_status(
    request: Request,
    workflow_id: uuid.UUID,
    page: SignedInPage,
    session: AsyncSession,
    meta: RequestMeta,
    status: WorkflowStatus,
    notice: str,
) -> Response:
    """Move the workflow to `status` (the API's rules); a workflow that cannot run comes back
    with each problem on its field."""
    try:
        async with session.begin_nested():
            await workflows_service.set_status(
                session,
                page.principal.user_id,
                workflow_id,
                status,
                meta=meta,
                hooks=get_status_hooks(request),
            )
    except DomainError as error:
        workflow = await workflows_service.get_workflow(session, workflow_id)
        return await _builder(
            request,
            page,
            session,
            builder.from_workflow(workflow),
            problems=list(error.details),
            message=error.message,
            status_code=error.status_code,
        )
    return RedirectResponse(f"/workflows/{workflow_id}?notice={notice}", status_code=303)


@router.get("/workflows/{workflow_id}/export")
async def export_workflow(workflow_id: uuid.UUID, page: SignedInPage, session: PageSession) -> Response:
    """The workflow as a JSON file (the API's export: secrets blanked, no integration ids)."""
    document = await workflows_service.export_workflow(session, workflow_id)
    filename = f"workflow-{workflow_id}.json"
    return Response(
        document.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/workflows/{workflow_id}/runs/{execution_id}/progress")
async def run_progress(
    request: Request,
    workflow_id: uuid.UUID,
    execution_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
) -> Response:
    """The latest run's status, polled while it runs; once it ends, each card's result too."""
    workflow = await workflows_service.get_workflow(session, workflow_id)
    run = await executions_service.get_execution(session, execution_id)
    draft = builder.from_workflow(workflow)
    context = {
        "draft": draft,
        "run": run,
        "results": builder.results_by_card(draft, run.step_results),
        "oob": True,
    }
    return _render(request, "workflows/_run.html", context, viewer=page.viewer)
