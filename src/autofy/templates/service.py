"""Browsing workflow templates and turning one into a draft workflow of the caller.

A template's `template_data` is a workflow document (docs/workflow-format.md) plus `inputs`: what
the user fills in, each value written at the JSON Pointers of its `targets`. The result is saved
through the workflow service like any other new workflow, so the same catalog checks apply.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.audit.schemas import RequestInfo
from autofy.errors import ErrorDetail, NotFoundError, ValidationFailedError
from autofy.templates import repository
from autofy.templates.repository import TemplateFilters
from autofy.templates.schemas import (
    Template,
    TemplateInput,
    TemplateInstantiate,
    TemplatePage,
    TemplateSummary,
)
from autofy.workflows import service as workflow_service
from autofy.workflows.schemas import Workflow, WorkflowDocument

_INPUT_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


class TemplateNotFound(NotFoundError):
    def __init__(self, template_id: uuid.UUID) -> None:
        super().__init__(f"Template {template_id} does not exist.")


class BrokenTemplate(Exception):
    """The template's own data is inconsistent (a pointer that leads nowhere): a bug in the seed."""


def _inputs(template_data: Mapping[str, Any]) -> list[TemplateInput]:
    return [TemplateInput.model_validate(item) for item in template_data.get("inputs", [])]


def _summary_fields(row: RowMapping) -> dict[str, Any]:
    return {
        **dict(row),
        "required_integrations": list(row["required_integrations"] or []),
        "use_count": row["use_count"] or 0,
        "is_featured": bool(row["is_featured"]),
        "difficulty": row["difficulty"] or "beginner",
        "inputs": _inputs(row["template_data"]),
    }


async def list_templates(
    session: AsyncSession, filters: TemplateFilters, *, limit: int = 50, offset: int = 0
) -> TemplatePage:
    rows, total = await repository.list_templates(session, filters, limit=limit, offset=offset)
    return TemplatePage(
        items=[TemplateSummary.model_validate(_summary_fields(row)) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


async def list_categories(session: AsyncSession) -> list[str]:
    """The categories templates are filed under, alphabetically (the gallery's filter)."""
    return await repository.list_categories(session)


async def _load(session: AsyncSession, template_id: uuid.UUID) -> RowMapping:
    row = await repository.get_template(session, template_id)
    if row is None:
        raise TemplateNotFound(template_id)
    return row


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> Template:
    return Template.model_validate(_summary_fields(await _load(session, template_id)))


def _input_problems(inputs: list[TemplateInput], given: Mapping[str, Any]) -> list[ErrorDetail]:
    declared = {item.key: item for item in inputs}
    problems: list[ErrorDetail] = [
        {
            "field": f"inputs.{key}",
            "message": f"not an input of this template ({', '.join(declared) or 'none'})",
        }
        for key in sorted(set(given) - set(declared))
    ]
    for item in inputs:
        value = given.get(item.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if item.required:
                problems.append({"field": f"inputs.{item.key}", "message": f"required: {item.label}"})
            continue
        expected = _INPUT_TYPES[item.type]
        # bool is an int in Python; a boolean never stands in for a number.
        if not isinstance(value, expected) or (isinstance(value, bool) and item.type != "boolean"):
            problems.append({"field": f"inputs.{item.key}", "message": f"must be a {item.type}"})
    return problems


def _pointer_tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise BrokenTemplate(f"{pointer!r} is not a JSON Pointer")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def set_pointer(document: Any, pointer: str, value: Any) -> None:
    """Write `value` at the JSON Pointer (RFC 6901) `pointer` inside `document`.

    Every parent must exist; the last token may add a key to an object or replace a list item.
    """
    tokens = _pointer_tokens(pointer)
    container = document
    try:
        for token in tokens[:-1]:
            container = container[int(token)] if isinstance(container, list) else container[token]
        last = tokens[-1]
        if isinstance(container, list):
            container[int(last)] = value
        elif isinstance(container, dict):
            container[last] = value
        else:
            raise BrokenTemplate(f"{pointer!r} does not lead into an object or a list")
    except (KeyError, IndexError, ValueError, TypeError):
        raise BrokenTemplate(f"{pointer!r} leads nowhere in the template") from None


async def instantiate(
    session: AsyncSession,
    user_id: uuid.UUID,
    template_id: uuid.UUID,
    request: TemplateInstantiate,
    *,
    meta: RequestInfo | None = None,
) -> Workflow:
    """A draft workflow of the caller, made from the template with the given inputs filled in."""
    row = await _load(session, template_id)
    document: dict[str, Any] = copy.deepcopy(row["template_data"])
    inputs = _inputs(document)
    problems = _input_problems(inputs, request.inputs)
    if problems:
        raise ValidationFailedError("Some template inputs are missing or invalid.", details=problems)
    for item in inputs:
        value = request.inputs.get(item.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # an optional input left empty keeps the template's own value
        for target in item.targets:
            set_pointer(document, target, value)
    document.pop("inputs", None)
    if request.name is not None:
        document["name"] = request.name
    try:
        workflow_document = WorkflowDocument.model_validate(document)
    except ValidationError as error:
        raise BrokenTemplate(f"template {template_id} is not a valid workflow document: {error}") from None
    workflow = await workflow_service.create_workflow(
        session,
        user_id,
        workflow_document,
        meta=meta,
        source="template",
        audit_details={"template_id": str(template_id)},
    )
    await repository.count_use(session, template_id)
    return workflow
