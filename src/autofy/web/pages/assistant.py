"""The assistant: conversations, answers streamed as the model writes them, and the workflow a
conversation proposes, previewed with what it still needs (connect a service, fill an input).

The message box posts to `/assistant/messages`. Asked for `text/event-stream` (assistant.js), the
answer streams with the API's own events (`chat.router.turn_events`); then the script fetches
`/assistant/{id}/conversation`, the same server-rendered list the page shows, so the answer's
markdown is rendered once, here, by a sanitizing renderer. Without JavaScript the form still works:
the turn runs and the page reloads with the answer.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from autofy.assistant.tools import missing_integrations
from autofy.auth.dependencies import RequestMeta
from autofy.chat import service as chat_service
from autofy.chat.router import Clients, Reservations, turn_events
from autofy.chat.schemas import (
    ChatMessage,
    ChatSession,
    ChatSessionCreate,
    ChatSessionUpdate,
    MissingIntegration,
)
from autofy.connectors.catalog import catalog
from autofy.connectors.llm import PROVIDERS
from autofy.connectors.sdk import CredentialField
from autofy.connectors.validation import StepProblem
from autofy.credits import service as credits_service
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.errors import DomainError
from autofy.integrations import service as integrations_service
from autofy.integrations.router import Cipher, Policy
from autofy.integrations.schemas import IntegrationCreate, IntegrationUpdate, ServiceName
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render
from autofy.workflows import service as workflows_service
from autofy.workflows.router import Hooks
from autofy.workflows.schemas import Step, Workflow

router = APIRouter()

SESSIONS_SHOWN = 50
MESSAGES_SHOWN = 500
SEARCH_RESULTS = 20
CONFIG_VALUE_LENGTH = 120
# Services whose connection the `connected` notice may name (from IntegrationCreate).
_CONNECTABLE = frozenset(get_args(ServiceName))

# What each assistant tool did, as an activity line; `{name}` is the call's argument `name`.
# assistant.js formats the lines of a streaming answer from the same sentences.
ACTIVITY = {
    "search_catalog": "Searched the catalog for “{query}”",
    "describe_action": "Read how {service_name} · {name} works",
    "list_integrations": "Checked your connected services",
    "list_notion_databases": "Listed your Notion databases",
    "list_telegram_chats": "Listed the chats of your Telegram bot",
    "create_workflow": "Validated the proposal “{name}”",
    "get_workflow": "Read the workflow",
    "list_executions": "Looked at recent runs",
    "get_execution": "Read a run step by step",
    "set_intent": "Noted the topic",
}


@dataclass(frozen=True)
class ProviderErrorHelp:
    title: str
    action: str
    fixed_under_integrations: bool  # the action is a link to the Integrations page


# The provider errors a turn reports (chat.schemas.TurnError): what happened, what to do.
PROVIDER_ERRORS = {
    "provider_auth_failed": ProviderErrorHelp("The AI provider refused the API key", "Replace the key", True),
    "provider_rate_limited": ProviderErrorHelp(
        "The AI provider is limiting requests", "Wait a moment, then send again", False
    ),
    "provider_unavailable": ProviderErrorHelp(
        "The AI provider is not answering", "Try again in a moment", False
    ),
    "provider_failed": ProviderErrorHelp(
        "The AI provider could not answer", "Check the provider's settings", True
    ),
}


def activity_line(call: Mapping[str, Any]) -> str:
    arguments = call.get("arguments")
    values: defaultdict[str, str] = defaultdict(str)
    if isinstance(arguments, dict):
        values.update(
            {key: str(value) for key, value in arguments.items() if not isinstance(value, dict | list)}
        )
    sentence = ACTIVITY.get(str(call.get("name")), "Used {tool}")
    values["tool"] = str(call.get("name"))
    line = sentence.format_map(values)
    return line if call.get("ok", True) else f"{line}: it found problems"


def activity_lines(metadata: Mapping[str, Any]) -> list[str]:
    """What an answer's turn looked up or checked: its tool calls, or the templates it considered
    when no AI provider is connected."""
    lines = [activity_line(call) for call in metadata.get("tool_calls", [])]
    if metadata.get("reason") == "no_llm_integration":
        count = len(metadata.get("templates", []))
        lines.append(
            f"Looked for matching templates: {count} found" if count else "Found no matching template"
        )
    return lines


# --- what a page shows --------------------------------------------------------------------------


TRIGGERS = {
    "manual": "Run by hand",
    "webhook": "When a webhook is called",
    "scheduled": "On a schedule",
    "email": "When an email arrives",
}


@dataclass(frozen=True)
class StepCard:
    order: int
    service: str
    action: str
    configuration: list[tuple[str, str]]
    problems: list[StepProblem]


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= CONFIG_VALUE_LENGTH else text[: CONFIG_VALUE_LENGTH - 1] + "…"


def _step_card(step: Step, problems: Sequence[StepProblem]) -> StepCard:
    try:
        service = catalog().connector(step.service_name).display_name
        action = catalog().describe_action(step.service_name, step.action_name).display_name
    except DomainError:  # a step the catalog no longer knows: its names, and its problem below
        service, action = step.service_name, step.action_name
    return StepCard(
        order=step.step_order,
        service=service,
        action=action,
        configuration=[(key, _shown(value)) for key, value in step.configuration.items()],
        problems=[problem for problem in problems if problem.step_order == step.step_order],
    )


@dataclass
class Preview:
    """A proposed workflow as the conversation shows it: trigger and step cards, and what it still
    needs before it can run (inputs to fill, services to connect)."""

    workflow_id: uuid.UUID
    workflow: Workflow | None = None  # None: discarded since
    trigger: str = ""
    trigger_configuration: list[tuple[str, str]] = field(default_factory=list)
    steps: list[StepCard] = field(default_factory=list)
    problems: list[StepProblem] = field(default_factory=list)
    missing: list[MissingIntegration] = field(default_factory=list)
    connect_fields: dict[str, list[CredentialField]] = field(default_factory=dict)
    refusal: DomainError | None = None
    connect_failed: bool = False  # the refusal is the connect form's: show the form open again

    @property
    def ready(self) -> bool:
        return self.workflow is not None and not self.problems and not self.missing

    @property
    def workflow_problems(self) -> list[StepProblem]:
        return [problem for problem in self.problems if problem.step_order is None]


async def _preview(session: AsyncSession, workflow_id: uuid.UUID) -> Preview:
    try:
        workflow = await workflows_service.get_workflow(session, workflow_id)
    except workflows_service.WorkflowNotFound:
        return Preview(workflow_id=workflow_id)
    found = await workflows_service.document_problems(
        session, workflow.trigger_type, workflow.trigger_config, workflow.steps, connections=False
    )
    problems = [problem for problem in found if problem.blocks_activation]
    needed = catalog().required_services([step.model_dump() for step in workflow.steps])
    missing = await missing_integrations(session, needed)
    return Preview(
        workflow_id=workflow_id,
        workflow=workflow,
        trigger=TRIGGERS.get(workflow.trigger_type, workflow.trigger_type),
        trigger_configuration=[(key, _shown(value)) for key, value in workflow.trigger_config.items()],
        steps=[_step_card(step, problems) for step in workflow.steps],
        problems=problems,
        missing=missing,
        connect_fields={
            item.service_name: catalog().connector(item.service_name).auth.fields
            for item in missing
            if catalog().connector(item.service_name).auth.kind != "oauth2"
        },
    )


@dataclass
class MessageView:
    message: ChatMessage
    activity: list[str]
    preview: Preview | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return self.message.metadata


async def _message_views(session: AsyncSession, session_id: uuid.UUID) -> list[MessageView]:
    messages = await chat_service.list_messages(session, session_id, limit=MESSAGES_SHOWN, offset=0)
    # A workflow is previewed once, under the latest answer that names it.
    latest: dict[str, uuid.UUID] = {}
    for message in messages:
        if workflow_id := message.metadata.get("workflow_id"):
            latest[str(workflow_id)] = message.id
    views = []
    for message in messages:
        workflow_id = message.metadata.get("workflow_id")
        preview = None
        if workflow_id and latest[str(workflow_id)] == message.id:
            preview = await _preview(session, uuid.UUID(str(workflow_id)))
        views.append(
            MessageView(
                message=message,
                activity=activity_lines(message.metadata),
                preview=preview,
            )
        )
    return views


async def _has_provider(session: AsyncSession) -> bool:
    integrations = await integrations_service.list_integrations(session)
    return any(i.service_name in PROVIDERS and i.status == "active" for i in integrations)


async def _page_context(
    session: AsyncSession, user_id: uuid.UUID, current: ChatSession | None
) -> dict[str, Any]:
    sessions = await chat_service.list_sessions(session, status=None, limit=SESSIONS_SHOWN, offset=0)
    return {
        "sessions": sessions.items,
        "current": current,
        "messages": await _message_views(session, current.id) if current else [],
        "has_provider": await _has_provider(session),
        "credits": await credits_service.own_usage(session, user_id),
        "activity": ACTIVITY,
        "provider_errors": PROVIDER_ERRORS,
        "connected": None,
    }


def _render_page(
    request: Request, page: SignedInPage, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    return render(request, "assistant/index.html", context, viewer=page.viewer, status_code=status_code)


def _conversation_url(session_id: uuid.UUID, anchor: str = "") -> str:
    return f"/assistant/{session_id}" + (f"#{anchor}" if anchor else "")


# --- pages --------------------------------------------------------------------------------------


@router.get("/assistant")
async def index(request: Request, page: SignedInPage, session: PageSession) -> Response:
    context = await _page_context(session, page.principal.user_id, None)
    return _render_page(request, page, context)


@router.get("/assistant/search")
async def search(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    cipher: Cipher,
    policy: Policy,
    clients: Clients,
    reservations: Reservations,
    q: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    context = await _page_context(session, page.principal.user_id, None)
    query = q.strip()
    results = None
    if query:
        turn_context = chat_service.TurnContext(
            cipher=cipher, policy=policy, clients=clients, reservations=reservations
        )
        results = await chat_service.search(
            session, turn_context, page.principal.user_id, query, limit=SEARCH_RESULTS
        )
    found = [hit.message.id for hit in results.items] if results else []
    context |= {
        "query": query,
        "results": results,
        "passages": await chat_service.passages(session, query, found) if found else {},
    }
    return render(request, "assistant/search.html", context, viewer=page.viewer)


@router.get("/assistant/{session_id}")
async def conversation(
    request: Request,
    session_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    connected: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    current = await chat_service.get_session(session, session_id)
    context = await _page_context(session, page.principal.user_id, current)
    if connected is not None and connected in _CONNECTABLE:
        context["connected"] = catalog().connector(connected).display_name
    return _render_page(request, page, context)


@router.get("/assistant/{session_id}/conversation")
async def conversation_fragment(
    request: Request, session_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    """The messages and the credits, for assistant.js to swap in once an answer has streamed."""
    current = await chat_service.get_session(session, session_id)
    context = await _page_context(session, page.principal.user_id, current)
    return render(request, "assistant/_conversation.html", context, viewer=page.viewer)


@router.post("/assistant/messages")
async def send_message(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    database: Annotated[Database, Depends(get_database)],
    cipher: Cipher,
    policy: Policy,
    clients: Clients,
    reservations: Reservations,
    meta: RequestMeta,
    content: Annotated[str, Form(max_length=20_000)],
    session_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """One message to the assistant, in the given conversation or a new one."""
    user_id = page.principal.user_id
    current = None if session_id is None else await chat_service.get_session(session, session_id)
    text = content.strip()
    if not text:
        context = await _page_context(session, user_id, current)
        context["message_error"] = "Write a message first."
        return _render_page(request, page, context, status_code=422)
    if current is None:
        current = await chat_service.create_session(session, user_id, ChatSessionCreate(), meta=meta)
    session_id = current.id
    turn_context = chat_service.TurnContext(
        cipher=cipher, policy=policy, clients=clients, reservations=reservations, meta=meta
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        # The new session commits when this route returns, before the stream's own transaction.
        events = turn_events(database, page.principal, session_id, text, turn_context)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-Chat-Session": str(session_id),
            },
        )
    turn = await chat_service.post_message(session, user_id, session_id, text, turn_context)
    return RedirectResponse(_conversation_url(session_id, f"message-{turn.assistant_message.id}"), 303)


@router.post("/assistant/{session_id}/rename")
async def rename(
    session_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    session_name: Annotated[str, Form(max_length=200)],
) -> Response:
    name = session_name.strip()
    if name:
        changes = ChatSessionUpdate(session_name=name)
        await chat_service.update_session(session, page.principal.user_id, session_id, changes, meta=meta)
    return RedirectResponse(_conversation_url(session_id), 303)


@router.post("/assistant/{session_id}/reopen")
async def reopen(
    session_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    """A conversation closed through the API (completed, abandoned) takes messages again."""
    changes = ChatSessionUpdate(status="active")
    await chat_service.update_session(session, page.principal.user_id, session_id, changes, meta=meta)
    return RedirectResponse(_conversation_url(session_id), 303)


@router.post("/assistant/{session_id}/delete")
async def delete(
    session_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    await chat_service.delete_session(session, page.principal.user_id, session_id, meta=meta)
    return RedirectResponse("/assistant", 303)


# --- the proposed workflow ----------------------------------------------------------------------


async def _with_refusal(
    request: Request,
    page: SignedInPage,
    session: AsyncSession,
    session_id: uuid.UUID,
    workflow_id: uuid.UUID,
    refusal: DomainError,
    *,
    connecting: bool = False,
) -> Response:
    """The conversation again, the refusal explained under the workflow it concerns."""
    current = await chat_service.get_session(session, session_id)
    context = await _page_context(session, page.principal.user_id, current)
    for view in context["messages"]:
        if view.preview is not None and view.preview.workflow_id == workflow_id:
            view.preview.refusal = refusal
            view.preview.connect_failed = connecting
    return _render_page(request, page, context, status_code=refusal.status_code)


@router.post("/assistant/{session_id}/workflows/{workflow_id}/activate")
async def activate(
    request: Request,
    session_id: uuid.UUID,
    workflow_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    hooks: Hooks,
) -> Response:
    try:
        await workflows_service.set_status(
            session, page.principal.user_id, workflow_id, "active", meta=meta, hooks=hooks
        )
    except (workflows_service.WorkflowInvalid, workflows_service.StatusChangeNotAllowed) as refusal:
        # Refused before anything changed: the page explains why, the transaction has nothing to undo.
        return await _with_refusal(request, page, session, session_id, workflow_id, refusal)
    return RedirectResponse(_conversation_url(session_id, f"workflow-{workflow_id}"), 303)


@router.post("/assistant/{session_id}/workflows/{workflow_id}/discard")
async def discard(
    session_id: uuid.UUID, workflow_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    await workflows_service.delete_workflow(session, page.principal.user_id, workflow_id, meta=meta)
    return RedirectResponse(_conversation_url(session_id, f"workflow-{workflow_id}"), 303)


def _credentials(form: Mapping[str, Any], fields: Sequence[CredentialField]) -> dict[str, str]:
    return {f.name: str(form.get(f"credential-{f.name}") or "") for f in fields}


@router.post("/assistant/{session_id}/workflows/{workflow_id}/connect/{service_name}")
async def connect(
    request: Request,
    session_id: uuid.UUID,
    workflow_id: uuid.UUID,
    service_name: str,
    page: SignedInPage,
    session: PageSession,
    cipher: Cipher,
    policy: Policy,
    meta: RequestMeta,
) -> Response:
    """Connect a service the proposed workflow needs (or send new credentials for a broken one),
    test the connection, and come back to the conversation."""
    user_id = page.principal.user_id
    form = await request.form()
    connector = catalog().connector(service_name)  # an unknown service: the not-found page
    credentials = _credentials(form, connector.auth.fields)
    api_base = str(form.get("api_base") or "").strip() or None
    existing = next(
        (i for i in await integrations_service.list_integrations(session) if i.service_name == service_name),
        None,
    )
    try:
        if existing is None:
            configuration = {"api_base": api_base}
            body = IntegrationCreate.model_validate(
                {"service_name": service_name, "credentials": credentials, "configuration": configuration}
            )
            integration = await integrations_service.create_integration(
                session, cipher, user_id, body, meta=meta
            )
        else:
            # New credentials for a broken connection; its other settings stay as they were.
            configuration = existing.configuration | ({"api_base": api_base} if api_base else {})
            changes = IntegrationUpdate.model_validate(
                {"credentials": credentials, "configuration": configuration}
            )
            integration = await integrations_service.update_integration(
                session, cipher, user_id, existing.id, changes, meta=meta
            )
        tested = await integrations_service.run_connection_test(
            session, cipher, policy, user_id, integration.id, meta=meta
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        invalid = DomainError(f"{connector.display_name} was not connected: {problems}")
        return await _with_refusal(request, page, session, session_id, workflow_id, invalid, connecting=True)
    except DomainError as refusal:
        return await _with_refusal(request, page, session, session_id, workflow_id, refusal, connecting=True)
    if not tested.ok:
        untested = DomainError(f"{connector.display_name} is not connected yet: {tested.message}")
        return await _with_refusal(request, page, session, session_id, workflow_id, untested, connecting=True)
    return RedirectResponse(f"/assistant/{session_id}?connected={service_name}#workflow-{workflow_id}", 303)
