"""The assistant's tools: what the model may read and do, each on the user's own RLS session.

Every tool takes validated arguments and answers with JSON-able data the model reads. A tool never
raises for something the model got wrong (an unknown action, a workflow with problems, an id that
is not the user's): it answers with the problem, so the model can fix it. Tools never return a
credential: integrations are listed by service, status and account; lookups in Notion or Telegram
return ids and titles.

`create_workflow` validates the proposal with the workflow service's own validator (what
activation checks, except services not connected yet), saves it only when it has no problem, as a draft with `created_from_chat` and
the chat session, and points the session at it. After `MAX_REPAIRS` invalid proposals in a turn it
stops accepting more and tells the model to ask the user instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit.schemas import RequestInfo
from autofy.chat import repository as chat_repository
from autofy.chat.schemas import MissingIntegration
from autofy.connectors import notion, telegram
from autofy.connectors.catalog import UnknownAction, UnknownService, catalog
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.runtime import connector_context
from autofy.connectors.sdk import ConnectorContext, ConnectorError
from autofy.errors import NotFoundError
from autofy.executions import service as executions_service
from autofy.executions.repository import ExecutionFilters
from autofy.integrations import repository as integrations_repository
from autofy.integrations.service import CredentialsUnreadable, decrypted_credentials
from autofy.security.crypto import CredentialCipher
from autofy.security.secrets import is_secret_key
from autofy.workflows import service as workflow_service
from autofy.workflows.schemas import Workflow, WorkflowDocument

MAX_REPAIRS = 3
MAX_SEARCH_HITS = 8
MAX_LOOKUP_ITEMS = 50
MAX_EXECUTIONS = 10
# Step inputs and outputs of an execution can be large (whole emails): the model gets a preview.
MAX_VALUE_CHARS = 2000
REDACTED = "[redacted]"


@dataclass
class TurnState:
    """What one turn's tools share: the user's transaction and what the tools produced."""

    session: AsyncSession
    user_id: uuid.UUID
    chat_session_id: uuid.UUID
    cipher: CredentialCipher = field(repr=False)
    policy: OutboundPolicy
    meta: RequestInfo | None = None
    intent: str | None = None
    workflow: Workflow | None = None
    missing_integrations: list[MissingIntegration] = field(default_factory=list)
    invalid_proposals: int = 0


# --- arguments ----------------------------------------------------------------------------------


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchCatalog(_Arguments):
    query: str = Field(description="Words describing what a step should do, e.g. 'send telegram message'.")


class DescribeAction(_Arguments):
    service_name: str = Field(description="The service, e.g. 'gmail'.")
    name: str = Field(description="The action or trigger name, e.g. 'send_email'.")


class NoArguments(_Arguments):
    pass


class ProposedWorkflow(_Arguments):
    name: str = Field(description="A short name for the workflow.")
    description: str = Field(default="", description="One sentence saying what it does.")
    trigger_type: Literal["manual", "scheduled", "webhook", "email"] = Field(
        description="email needs step 1 to be the gmail/new_email trigger step."
    )
    trigger_config: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            'scheduled: {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"} or {"schedule": '
            '"daily", "time": "08:00", "timezone": "UTC"}; email: {"poll_interval_seconds": 60}; '
            "manual and webhook: {}."
        ),
    )
    steps: list[dict[str, Any]] = Field(
        description=(
            "Ordered steps, each {step_order (from 1), step_type (trigger|action|condition|delay), "
            "service_name, action_name, configuration (the action's input), conditions (optional)}."
        )
    )


class WorkflowId(_Arguments):
    workflow_id: str = Field(description="The workflow's id.")


class ListExecutions(_Arguments):
    workflow_id: str | None = Field(default=None, description="Only this workflow's runs.")
    status: Literal["running", "completed", "failed", "cancelled"] | None = Field(
        default=None, description="Only runs with this status."
    )


class ExecutionId(_Arguments):
    execution_id: str = Field(description="The execution's id.")


class SetIntent(_Arguments):
    intent: Literal["workflow_creation", "help", "troubleshooting"]


# --- catalog ------------------------------------------------------------------------------------


async def search_catalog(state: TurnState, arguments: SearchCatalog) -> dict[str, Any]:
    hits = catalog().search(arguments.query, limit=MAX_SEARCH_HITS)
    return {
        "results": [
            hit.model_dump(include={"service_name", "name", "kind", "display_name", "description"})
            for hit in hits
        ]
    }


async def describe_action(state: TurnState, arguments: DescribeAction) -> dict[str, Any]:
    try:
        entry = catalog().describe_action(arguments.service_name, arguments.name)
    except (UnknownService, UnknownAction) as error:
        return {"error": error.message}
    service = catalog().describe_service(arguments.service_name)
    described = entry.model_dump(exclude={"credits"})
    described["requires_integration"] = service.requires_integration
    return described


# --- the user's account -------------------------------------------------------------------------


async def list_integrations(state: TurnState, arguments: NoArguments) -> dict[str, Any]:
    rows = await integrations_repository.list_integrations(state.session)
    connected = [
        {
            # The id is what an HTTP request step names (integration_id); never a credential.
            "id": str(row["id"]),
            "service_name": row["service_name"],
            "display_name": row["display_name"],
            "status": row["status"],
            "account": (row["metadata"] or {}).get("account"),
            "api_base": (row["configuration"] or {}).get("api_base"),
        }
        for row in rows
    ]
    names = {row["service_name"] for row in rows}
    not_connected = [
        service.service_name
        for service in catalog().describe().services
        # HTTP credentials have no steps of their own: they are connected when an HTTP step needs one.
        if service.requires_integration
        and (service.actions or service.triggers)
        and service.service_name not in names
    ]
    return {"integrations": connected, "not_connected": not_connected}


async def _lookup(
    state: TurnState,
    service_name: str,
    lookup: Callable[[ConnectorContext], Awaitable[Sequence[Mapping[str, Any]]]],
) -> dict[str, Any]:
    row = await integrations_repository.get_by_service(state.session, service_name)
    if row is None or row["status"] != "active":
        missing = await missing_integrations(state.session, {service_name})
        return {"error": f"{service_name} is not connected", "how_to_connect": missing[0].how_to_connect}
    try:
        credentials = await decrypted_credentials(
            state.session, state.cipher, user_id=state.user_id, integration_id=row["id"]
        )
    except CredentialsUnreadable:
        return {
            "error": f"the {service_name} integration must be reconnected (its credentials are unreadable)"
        }
    try:
        async with connector_context(
            catalog().connector(service_name),
            credentials=credentials,
            configuration=row["configuration"] or {},
            policy=state.policy,
        ) as ctx:
            items = await lookup(ctx)
    except ConnectorError as error:
        return {"error": error.message}
    return {"items": list(items)[:MAX_LOOKUP_ITEMS]}


async def list_notion_databases(state: TurnState, arguments: NoArguments) -> dict[str, Any]:
    return await _lookup(state, "notion", notion.list_databases)


async def list_telegram_chats(state: TurnState, arguments: NoArguments) -> dict[str, Any]:
    return await _lookup(state, "telegram", telegram.list_recent_chats)


async def missing_integrations(session: AsyncSession, services: set[str]) -> list[MissingIntegration]:
    """The services among `services` without an active integration, with how to connect each."""
    statuses = await integrations_repository.statuses_by_service(session)
    guides = {
        row["service_name"]: row["setup_guide"]
        for row in await integrations_repository.list_templates(session)
        if row["setup_guide"]
    }
    missing = []
    for service_name in sorted(services):
        if statuses.get(service_name) == "active":
            continue
        service = catalog().describe_service(service_name)
        how = guides.get(service_name) or service.auth.how_to_obtain
        missing.append(
            MissingIntegration(
                service_name=service_name,
                display_name=service.display_name,
                how_to_connect=f"{how}\nThen add it under Integrations (POST /api/v1/integrations).",
            )
        )
    return missing


# --- workflows ----------------------------------------------------------------------------------


async def _problems(
    session: AsyncSession, proposal: Mapping[str, Any]
) -> tuple[WorkflowDocument | None, list[str]]:
    """The proposal as a workflow document and everything wrong with it, as activation sees it
    (a service not connected yet is reported apart, as `missing_integrations`)."""
    try:
        document = WorkflowDocument.model_validate(proposal)
    except ValidationError as error:
        return None, [
            f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}" for detail in error.errors()
        ]
    problems = await workflow_service.document_problems(
        session, document.trigger_type, document.trigger_config, document.ordered_steps(), connections=False
    )
    return document, [str(problem) for problem in problems if problem.blocks_activation]


async def create_workflow(state: TurnState, arguments: ProposedWorkflow) -> dict[str, Any]:
    if state.invalid_proposals >= MAX_REPAIRS:
        return {
            "created": False,
            "error": (
                f"{MAX_REPAIRS} proposals in a row had problems; do not try again in this turn. "
                "Tell the user what is unclear and ask them."
            ),
        }
    document, problems = await _problems(state.session, arguments.model_dump())
    if document is None or problems:
        state.invalid_proposals += 1
        return {
            "created": False,
            "problems": problems,
            "instructions": "Fix exactly these problems and call create_workflow again.",
        }
    workflow = await workflow_service.create_workflow(
        state.session,
        state.user_id,
        document,
        meta=state.meta,
        source="assistant",
        created_from_chat=True,
        chat_session_id=state.chat_session_id,
        audit_details={"chat_session_id": str(state.chat_session_id)},
    )
    await chat_repository.update_session(state.session, state.chat_session_id, {"workflow_id": workflow.id})
    state.workflow = workflow
    state.intent = state.intent or "workflow_creation"
    needed = catalog().required_services([step.model_dump() for step in document.steps])
    state.missing_integrations = await missing_integrations(state.session, needed)
    return {
        "created": True,
        "workflow_id": str(workflow.id),
        "status": workflow.status,
        "missing_integrations": [
            {"service_name": item.service_name, "how_to_connect": item.how_to_connect}
            for item in state.missing_integrations
        ],
        "next": "The user test-runs the draft, then activates it.",
    }


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def get_workflow(state: TurnState, arguments: WorkflowId) -> dict[str, Any]:
    workflow_id = _uuid(arguments.workflow_id)
    if workflow_id is None:
        return {"error": f"{arguments.workflow_id!r} is not a workflow id"}
    try:
        workflow = await workflow_service.get_workflow(state.session, workflow_id)
        # The export blanks secret-looking values (signing secrets, Authorization headers).
        document = await workflow_service.export_workflow(state.session, workflow_id)
    except NotFoundError as error:
        return {"error": error.message}
    summary = workflow.model_dump(
        mode="json",
        include={
            "id",
            "status",
            "total_executions",
            "successful_executions",
            "failed_executions",
            "last_executed_at",
        },
    )
    return {**summary, "workflow": document.model_dump(mode="json")}


async def list_executions(state: TurnState, arguments: ListExecutions) -> dict[str, Any]:
    workflow_id = _uuid(arguments.workflow_id) if arguments.workflow_id else None
    if arguments.workflow_id and workflow_id is None:
        return {"error": f"{arguments.workflow_id!r} is not a workflow id"}
    try:
        page = await executions_service.list_executions(
            state.session,
            ExecutionFilters(status=arguments.status, workflow_id=workflow_id),
            limit=MAX_EXECUTIONS,
        )
    except NotFoundError as error:
        return {"error": error.message}
    return {"executions": [item.model_dump(mode="json") for item in page.items], "total": page.total}


def preview(value: Any) -> Any:
    """`value` with secret-looking fields blanked and long texts cut, for the model to read."""
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret_key(key) else preview(item) for key, item in value.items()}
    if isinstance(value, list):
        return [preview(item) for item in value[:20]]
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


async def get_execution(state: TurnState, arguments: ExecutionId) -> dict[str, Any]:
    execution_id = _uuid(arguments.execution_id)
    if execution_id is None:
        return {"error": f"{arguments.execution_id!r} is not an execution id"}
    try:
        execution = await executions_service.get_execution(state.session, execution_id)
    except NotFoundError as error:
        return {"error": error.message}
    described = execution.model_dump(mode="json", exclude={"trigger_data", "step_results", "metadata"})
    described["trigger_data"] = preview(execution.trigger_data)
    described["step_results"] = preview(execution.step_results)
    return described


async def set_intent(state: TurnState, arguments: SetIntent) -> dict[str, Any]:
    state.intent = arguments.intent
    return {"intent": arguments.intent}


# --- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssistantTool:
    name: str
    description: str
    arguments: type[_Arguments]
    run: Callable[[TurnState, Any], Awaitable[dict[str, Any]]]

    def schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function format, which LangChain converts for every provider."""
        parameters = self.arguments.model_json_schema()
        # Unknown arguments are refused when the call is validated; Gemini's schema subset has no
        # additionalProperties, and a title is noise to every model.
        parameters.pop("title", None)
        parameters.pop("additionalProperties", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


TOOLS: tuple[AssistantTool, ...] = (
    AssistantTool(
        "search_catalog",
        "Find catalog actions and triggers by words; returns service_name, name and description.",
        SearchCatalog,
        search_catalog,
    ),
    AssistantTool(
        "describe_action",
        "Read one action's input schema (or a trigger's config schema) and output schema.",
        DescribeAction,
        describe_action,
    ),
    AssistantTool(
        "list_integrations",
        "List the services the user has connected (with status) and those not connected yet.",
        NoArguments,
        list_integrations,
    ),
    AssistantTool(
        "list_notion_databases",
        "List the Notion databases shared with the user's Notion integration: id and title.",
        NoArguments,
        list_notion_databases,
    ),
    AssistantTool(
        "list_telegram_chats",
        "List the Telegram chats that recently wrote to the user's bot: id, type and title.",
        NoArguments,
        list_telegram_chats,
    ),
    AssistantTool(
        "create_workflow",
        "Validate a complete workflow against the catalog and, when valid, save it as a draft.",
        ProposedWorkflow,
        create_workflow,
    ),
    AssistantTool(
        "get_workflow", "Read one of the user's workflows and its steps.", WorkflowId, get_workflow
    ),
    AssistantTool(
        "list_executions",
        "List the user's recent workflow runs, newest first, optionally one workflow's or failed ones.",
        ListExecutions,
        list_executions,
    ),
    AssistantTool(
        "get_execution",
        "Read one run: its status, error, and each step's input, output and error.",
        ExecutionId,
        get_execution,
    ),
    AssistantTool(
        "set_intent",
        "Record what the user wants from this chat: workflow_creation, help or troubleshooting.",
        SetIntent,
        set_intent,
    ),
)
TOOLS_BY_NAME: Mapping[str, AssistantTool] = {tool.name: tool for tool in TOOLS}


async def run_tool(state: TurnState, name: str, raw_arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Run the tool the model called; a wrong name or wrong arguments come back as an error."""
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return {"error": f"there is no tool {name!r}; the tools are {', '.join(TOOLS_BY_NAME)}"}
    try:
        arguments = tool.arguments.model_validate(raw_arguments)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in detail['loc']) or 'arguments'}: {detail['msg']}"
            for detail in error.errors()
        ]
        return {"error": "invalid arguments", "problems": problems}
    return await tool.run(state, arguments)


def tool_result_text(result: Mapping[str, Any]) -> str:
    return json.dumps(result, default=str, ensure_ascii=False)
