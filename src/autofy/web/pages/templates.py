"""Templates: the gallery (search, categories) and the wizard that turns one into a workflow.

The wizard's form is generated from the template's input definitions; the services it needs are
shown with their connection state and a link to connect them. Creating goes through the templates
service as the API does, and ends in the builder of the new workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from autofy.auth.dependencies import RequestMeta
from autofy.connectors.catalog import UnknownAction, UnknownService, catalog
from autofy.errors import ValidationFailedError
from autofy.integrations import service as integrations_service
from autofy.integrations.schemas import Integration
from autofy.templates import service as templates_service
from autofy.templates.repository import TemplateFilters
from autofy.templates.schemas import Template, TemplateInput, TemplateInstantiate
from autofy.web.dependencies import PageSession, SignedIn, SignedInPage
from autofy.web.rendering import render

router = APIRouter()

GALLERY_SIZE = 100
NAME_FIELD = "workflow_name"
INPUT_PREFIX = "inputs."


@dataclass(frozen=True)
class NeededService:
    """A service the template's workflow uses, and the caller's connection to it, if any."""

    service_name: str
    display_name: str
    integration: Integration | None

    @property
    def ready(self) -> bool:
        return self.integration is not None and self.integration.status == "active"


@dataclass(frozen=True)
class StepLine:
    service_name: str
    text: str


@router.get("/templates")
async def gallery(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    search: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=50)] = "",
) -> Response:
    filters = TemplateFilters(category=category or None, search=search.strip() or None)
    templates = await templates_service.list_templates(session, filters, limit=GALLERY_SIZE)
    context = {
        "templates": templates.items,
        "categories": await templates_service.list_categories(session),
        "search": search,
        "category": category,
        "filtered": bool(search or category),
        "service_names": _display_names(),
    }
    return render(request, "templates/gallery.html", context, viewer=page.viewer)


@router.get("/templates/{template_id}")
async def wizard(
    request: Request, template_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    template = await templates_service.get_template(session, template_id)
    return await _wizard(request, page, session, template, values={NAME_FIELD: template.name})


@router.post("/templates/{template_id}")
async def instantiate(
    request: Request, template_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    """Create the workflow (a draft) and open it in the builder; problems go back on their fields."""
    template = await templates_service.get_template(session, template_id)
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    inputs, errors = _typed_inputs(template.inputs, values)
    name = values.get(NAME_FIELD, "").strip()
    if not name:
        errors[NAME_FIELD] = "Give the workflow a name."
    elif len(name) > 200:
        errors[NAME_FIELD] = "At most 200 characters."
    if errors:
        return await _wizard(request, page, session, template, values=values, errors=errors)
    try:
        async with session.begin_nested():
            workflow = await templates_service.instantiate(
                session,
                page.principal.user_id,
                template_id,
                TemplateInstantiate(inputs=inputs, name=name),
                meta=meta,
            )
    except ValidationFailedError as error:
        problems = {
            NAME_FIELD if detail["field"] == "name" else detail["field"]: detail["message"]
            for detail in error.details
        }
        return await _wizard(
            request, page, session, template, values=values, errors=problems, message=error.message
        )
    return RedirectResponse(f"/workflows/{workflow.id}", status_code=303)


def _typed_inputs(
    definitions: list[TemplateInput], values: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's text as the values the template's inputs take (numbers, booleans), and what
    could not be read, by field name."""
    inputs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for definition in definitions:
        name = INPUT_PREFIX + definition.key
        text = values.get(name, "").strip()
        if definition.type == "boolean":
            inputs[definition.key] = bool(text)
        elif not text:
            continue  # an empty optional input keeps the template's own value; required ones are the service's call
        elif definition.type == "string":
            inputs[definition.key] = text
        else:
            try:
                number = float(text)
            except ValueError:
                errors[name] = f"Enter a number, e.g. {'10' if definition.type == 'integer' else '2.5'}."
                continue
            if definition.type == "integer" and not number.is_integer():
                errors[name] = "Enter a whole number."
                continue
            inputs[definition.key] = int(number) if definition.type == "integer" else number
    return inputs, errors


async def _wizard(
    request: Request,
    page: SignedIn,
    session: PageSession,
    template: Template,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Response:
    integrations: dict[str, Integration] = {
        i.service_name: i for i in await integrations_service.list_integrations(session)
    }
    names = _display_names()
    needed = [
        NeededService(service, names.get(service, service), integrations.get(service))
        for service in template.required_integrations
    ]
    context = {
        "template": template,
        "needed": needed,
        "steps": _step_lines(template),
        "values": values,
        "errors": errors or {},
        "message": message
        or ("Some values are missing or not valid; see the fields below." if errors else None),
        "name_field": NAME_FIELD,
        "input_prefix": INPUT_PREFIX,
    }
    return render(
        request, "templates/wizard.html", context, viewer=page.viewer, status_code=422 if errors else 200
    )


def _display_names() -> dict[str, str]:
    return {connector.service_name: connector.display_name for connector in catalog().connectors}


_TRIGGERS = {
    "manual": "Started by hand",
    "webhook": "When a request reaches its webhook URL",
    "scheduled": "On a schedule",
    "email": "When a new email arrives",
}


def _step_lines(template: Template) -> list[StepLine]:
    """What the workflow does, as the catalog names its trigger and steps."""
    document = template.template_data
    lines = [StepLine("", _TRIGGERS.get(str(document.get("trigger_type")), "Trigger"))]
    for step in document.get("steps", []):
        service, action = str(step.get("service_name")), str(step.get("action_name"))
        try:
            described = catalog().describe_action(service, action)
            text = f"{catalog().connector(service).display_name}: {described.display_name}"
        except (UnknownService, UnknownAction):
            text = f"{service}: {action}"
        lines.append(StepLine(service, text))
    return lines
