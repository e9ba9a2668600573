"""Input the database cannot take, refused at the API's edge with a 4xx that names the field.

PostgreSQL stores no NUL character in `text` or `jsonb`, and a string holding half of a UTF-16
surrogate pair (`"\\ud800"` in JSON) cannot be encoded for it at all; JSON's `NaN` and `1e999`
parse to floats no JSON column holds. Each would otherwise reach a statement and end as a 500.
Bodies nested very deep are refused too: nothing Autofy takes needs more than a few levels, and
every recursive walk over them (templates, history, serialisers) would pay for it.

One dependency of the whole app (`refuse_unstorable_input`) checks the path, the query string and
the parsed JSON or form body of every request: 422 naming the field, 400 for too deep. Webhook
deliveries come from other systems, which cannot fix what they send: their bodies are kept
losslessly instead (triggers.webhook), and their query strings refused with 400. The engine
applies the same check to what it stores that no request carried: trigger data from polls, rendered
configuration, step outputs.
"""

from __future__ import annotations

import math
from typing import Any

# Starlette's Request (FastAPI's is the same class): the engine imports this module for
# `check_storable`, and a worker must not load the web framework.
from starlette.requests import Request

from autofy.errors import BadRequestError, ErrorDetail, ValidationFailedError

# Deeper than any workflow, configuration or webhook payload Autofy has met (they stay under 20).
MAX_JSON_DEPTH = 64
# What the engine stores (trigger data wraps a body; a service's answer may nest more than a
# request): roomier, but still far from what recursive walks over it can take.
MAX_STORED_DEPTH = 256
WEBHOOK_PATH_PREFIX = "/hooks/"


class UnstorableInput(ValueError):
    """A value the database cannot hold, or a structure too deep; `field` says where."""

    def __init__(self, field: str, problem: str, *, too_deep: bool = False) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.too_deep = too_deep


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored; remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not valid text"
    return None


def check_storable(value: Any, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise `UnstorableInput` for the first string, key or number in `value` (parsed JSON) that
    PostgreSQL cannot store, or when it nests deeper than `max_depth`. `field` names `value`
    (empty for a request body, whose fields are then named as validation errors name them).
    Iterative: a deep value must not exhaust the interpreter's stack while it is being judged."""
    pending: list[tuple[Any, str, int]] = [(value, field, 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise UnstorableInput(path, f"nests more than {max_depth} levels deep", too_deep=True)
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and (problem := text_problem(key)) is not None:
                        raise UnstorableInput(path or "body", f"has a field name that {problem}")
                    pending.append((child, _child(path, key), depth + 1))
            else:
                pending.extend((child, _child(path, index), depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                raise UnstorableInput(path or "body", problem)
        elif isinstance(item, float) and not math.isfinite(item):
            raise UnstorableInput(
                path or "body", "is not a finite number (NaN and infinities cannot be stored)"
            )


def _child(path: str, key: object) -> str:
    # Body fields are named as the API's validation errors name them: `steps.0.name`, no prefix.
    return f"{path}.{key}" if path else str(key)


async def refuse_unstorable_input(request: Request) -> None:
    """The app-wide dependency (module doc). FastAPI has parsed the body (if the route takes one)
    before dependencies run, so the JSON and form parsers' own results are what is checked."""
    webhook = request.url.path.startswith(WEBHOOK_PATH_PREFIX)
    try:
        check_storable(request.url.path, "path")
        for name, value in request.query_params.multi_items():
            check_storable(name, "query")
            check_storable(value, f"query.{name}")
        if not webhook:
            await _check_body(request)
    except UnstorableInput as error:
        detail: list[ErrorDetail] = [{"field": error.field, "message": error.problem}]
        message = f"{error.field} {error.problem}."
        if webhook or error.too_deep:
            raise BadRequestError(message, details=detail) from None
        raise ValidationFailedError(message, details=detail) from None


async def _check_body(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().casefold()
    if media_type == "application/json" or media_type.endswith("+json"):
        body = await request.body()
        if body:
            try:
                parsed = await request.json()  # cached: the route's own parse
            except (ValueError, RecursionError):
                return  # the route answers for a body that is not JSON
            check_storable(parsed, "")
    elif media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Starlette's own parse, cached on the request: the web pages' CSRF check and the route
        # read the same form (the stream can be read only once).
        for name, value in (await request.form()).multi_items():
            check_storable(name, "")
            if isinstance(value, str):
                check_storable(value, name)
