"""A fake Notion API (version 2022-06-28).

Real paths under `/v1`, the `Authorization: Bearer` + `Notion-Version` headers (missing version →
400 `missing_version`), page/database/block/list objects, Notion's validation (unknown property,
wrong property type, more than 100 children, rich text over 2000 characters) and its error shape
`{"object": "error", "status", "code", "message"}`. Tests seed databases and rows with
`add_database`/`add_row`, and read pages and blocks back from `pages` and `children`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeServer

_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "restricted_resource",
    404: "object_not_found",
    409: "conflict_error",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
}
_RICH_TEXT_TYPES = ("title", "rich_text")
MAX_BODY_BYTES = 500_000
Handler = Callable[[Request], Awaitable[Response]]


class NotionValidationError(Exception):
    pass


class FakeNotion(FakeServer):
    provider = "Notion"

    def __init__(self) -> None:
        self.token = f"ntn_{uuid.uuid4().hex}"
        self.bot_name = "Autofy Bot"
        self.workspace_name = "Acme"
        self.databases: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self._clock = itertools.count()
        super().__init__()

    # Seeding ------------------------------------------------------------------------------------
    def add_database(self, title: str, properties: dict[str, str], *, shared: bool = True) -> str:
        """A database with `properties` (name → type); unshared ones answer 404, as in Notion."""
        database_id = str(uuid.uuid4())
        schema = {
            name: {"id": uuid.uuid4().hex[:4], "name": name, "type": kind, kind: {}}
            for name, kind in properties.items()
        }
        if shared:
            self.databases[database_id] = {
                "object": "database",
                "id": database_id,
                "created_time": self._now(),
                "last_edited_time": self._now(),
                "title": _rich_text(title),
                "properties": schema,
                "url": f"https://www.notion.so/{database_id.replace('-', '')}",
                "archived": False,
                "in_trash": False,
            }
        return database_id

    def add_page(self, title: str) -> str:
        """A standalone page shared with the integration (a parent for new pages)."""
        page = self._new_page({"type": "workspace", "workspace": True}, {"title": _property("title", title)})
        return str(page["id"])

    def add_row(self, database_id: str, **values: Any) -> str:
        schema = self.databases[database_id]["properties"]
        properties = {name: _property(schema[name]["type"], value) for name, value in values.items()}
        for name, prop in schema.items():
            properties.setdefault(name, _property(prop["type"], None))
        page = self._new_page({"type": "database_id", "database_id": database_id}, properties)
        return str(page["id"])

    def _new_page(self, parent: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
        page_id = str(uuid.uuid4())
        for name, prop in properties.items():
            prop.setdefault("id", "title" if prop["type"] == "title" else name.lower()[:4])
        title = next((_plain(p["title"]) for p in properties.values() if p["type"] == "title"), "")
        slug = "-".join(title.split()[:6])
        page = {
            "object": "page",
            "id": page_id,
            "created_time": self._now(),
            "last_edited_time": self._now(),
            "archived": False,
            "in_trash": False,
            "parent": parent,
            "properties": properties,
            "url": f"https://www.notion.so/{slug + '-' if slug else ''}{page_id.replace('-', '')}",
        }
        self.pages[page_id] = page
        self.children[page_id] = []
        return page

    def _now(self) -> str:
        # Distinct, increasing times, so sorting by created_time is deterministic.
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(self._clock))
        return moment.isoformat().replace("+00:00", ".000Z")

    # Errors -------------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {
            "object": "error",
            "status": status,
            "code": _CODES.get(status, "internal_server_error"),
            "message": message,
        }

    def _error(self, status: int, message: str, code: str | None = None) -> JSONResponse:
        body = self.error_body(status, message)
        if code:
            body["code"] = code
        return JSONResponse(body, status)

    # Routes -------------------------------------------------------------------------------------
    def routes(self) -> list[Any]:
        return [
            Route("/v1/users/me", self._guard(self._me), methods=["GET"]),
            Route("/v1/search", self._guard(self._search), methods=["POST"]),
            Route("/v1/databases/{database_id}", self._guard(self._get_database), methods=["GET"]),
            Route("/v1/databases/{database_id}/query", self._guard(self._query), methods=["POST"]),
            Route("/v1/pages", self._guard(self._create_page), methods=["POST"]),
            Route("/v1/pages/{page_id}", self._guard(self._get_page), methods=["GET"]),
            Route("/v1/pages/{page_id}", self._guard(self._update_page), methods=["PATCH"]),
            Route("/v1/blocks/{block_id}/children", self._guard(self._get_children), methods=["GET"]),
            Route("/v1/blocks/{block_id}/children", self._guard(self._append_children), methods=["PATCH"]),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return self._error(401, "API token is invalid.")
            if not request.headers.get("notion-version"):
                return self._error(
                    400,
                    "Notion-Version header failed validation: Notion-Version header should be defined, "
                    "instead was `undefined`.",
                    "missing_version",
                )
            try:
                return await handler(request)
            except NotionValidationError as error:
                return self._error(400, str(error))

        return guarded

    async def _me(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "user",
                "id": "9a1b2c3d-0000-4000-8000-000000000001",
                "name": self.bot_name,
                "avatar_url": None,
                "type": "bot",
                "bot": {
                    "owner": {"type": "workspace", "workspace": True},
                    "workspace_name": self.workspace_name,
                },
            }
        )

    async def _search(self, request: Request) -> Response:
        body = await _json(request)
        wanted = (body.get("filter") or {}).get("value")
        query = str(body.get("query", "")).casefold()
        found: list[dict[str, Any]] = []
        if wanted in (None, "database"):
            found += [d for d in self.databases.values() if query in _plain(d["title"]).casefold()]
        if wanted in (None, "page"):
            found += [p for p in self.pages.values() if query in _page_title(p).casefold()]
        return JSONResponse(_paginate(found, body))

    async def _get_database(self, request: Request) -> Response:
        database = self.databases.get(_dashed(request.path_params["database_id"]))
        if database is None:
            return self._not_found("database", request.path_params["database_id"])
        return JSONResponse(database)

    def _not_found(self, kind: str, object_id: str) -> JSONResponse:
        return self._error(
            404,
            f"Could not find {kind} with ID: {_dashed(object_id)}. Make sure the relevant pages and "
            "databases are shared with your integration.",
        )

    async def _query(self, request: Request) -> Response:
        database_id = _dashed(request.path_params["database_id"])
        if database_id not in self.databases:
            return self._not_found("database", database_id)
        body = await _json(request)
        rows = [
            page
            for page in self.pages.values()
            if page["parent"].get("database_id") == database_id and not page["archived"]
        ]
        if body.get("filter"):
            rows = [row for row in rows if _filter_matches(row, body["filter"])]
        for sort in reversed(body.get("sorts") or []):
            rows.sort(
                key=lambda row, sort=sort: _sort_key(row, sort), reverse=sort.get("direction") == "descending"
            )
        return JSONResponse(_paginate(rows, body))

    async def _create_page(self, request: Request) -> Response:
        body = await _json(request)
        parent = body.get("parent") or {}
        children = body.get("children") or []
        _check_children(children, "body.children")
        properties = body.get("properties") or {}
        if "database_id" in parent:
            database = self.databases.get(_dashed(str(parent["database_id"])))
            if database is None:
                return self._not_found("database", str(parent["database_id"]))
            schema = database["properties"]
            stored_parent = {"type": "database_id", "database_id": database["id"]}
        elif "page_id" in parent:
            if _dashed(str(parent["page_id"])) not in self.pages:
                return self._not_found("page", str(parent["page_id"]))
            schema = {"title": {"type": "title"}}
            stored_parent = {"type": "page_id", "page_id": _dashed(str(parent["page_id"]))}
        else:
            raise NotionValidationError(
                "body failed validation: body.parent should be defined, instead was `undefined`."
            )
        stored = _validate_properties(properties, schema)
        for name, prop in schema.items():
            stored.setdefault(name, _property(prop["type"], None))
        page = self._new_page(stored_parent, stored)
        self.children[page["id"]] = [_stored_block(block) for block in children]
        return JSONResponse(page)

    async def _get_page(self, request: Request) -> Response:
        page = self.pages.get(_dashed(request.path_params["page_id"]))
        if page is None:
            return self._not_found("page", request.path_params["page_id"])
        return JSONResponse(page)

    async def _update_page(self, request: Request) -> Response:
        page = self.pages.get(_dashed(request.path_params["page_id"]))
        if page is None:
            return self._not_found("page", request.path_params["page_id"])
        body = await _json(request)
        schema = {name: {"type": prop["type"]} for name, prop in page["properties"].items()}
        for name, prop in _validate_properties(body.get("properties") or {}, schema).items():
            page["properties"][name] = {**prop, "id": page["properties"][name]["id"]}
        if "archived" in body:
            page["archived"] = page["in_trash"] = bool(body["archived"])
        page["last_edited_time"] = self._now()
        return JSONResponse(page)

    async def _get_children(self, request: Request) -> Response:
        block_id = _dashed(request.path_params["block_id"])
        if block_id not in self.children:
            return self._not_found("block", block_id)
        query = dict(request.query_params)
        return JSONResponse(
            _paginate(self.children[block_id], {**query, "page_size": int(query.get("page_size", 100))})
        )

    async def _append_children(self, request: Request) -> Response:
        block_id = _dashed(request.path_params["block_id"])
        if block_id not in self.children:
            return self._not_found("block", block_id)
        body = await _json(request)
        children = body.get("children")
        if not isinstance(children, list):
            raise NotionValidationError(
                "body failed validation: body.children should be defined, instead was `undefined`."
            )
        _check_children(children, "body.children")
        added = [_stored_block(block) for block in children]
        self.children[block_id].extend(added)
        return JSONResponse(
            {
                "object": "list",
                "results": added,
                "next_cursor": None,
                "has_more": False,
                "type": "block",
                "block": {},
            }
        )


# --- helpers ------------------------------------------------------------------------------------


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise NotionValidationError(
            f"Request body too large: {len(raw)} bytes, the limit is {MAX_BODY_BYTES}."
        )
    try:
        body = await request.json()
    except ValueError:
        raise NotionValidationError("Error parsing JSON body.") from None
    if not isinstance(body, dict):
        raise NotionValidationError("body failed validation: body should be an object.")
    return body


def _dashed(value: str) -> str:
    raw = value.replace("-", "")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}" if len(raw) == 32 else value


def _rich_text(text: str) -> list[dict[str, Any]]:
    if not text:
        return []
    return [{"type": "text", "text": {"content": text, "link": None}, "plain_text": text, "href": None}]


def _plain(items: list[dict[str, Any]]) -> str:
    return "".join(item.get("plain_text", "") for item in items)


def _page_title(page: dict[str, Any]) -> str:
    return next((_plain(p["title"]) for p in page["properties"].values() if p["type"] == "title"), "")


def _property(kind: str, value: Any) -> dict[str, Any]:
    """A stored property from a simple seed value."""
    if kind in _RICH_TEXT_TYPES:
        stored: Any = _rich_text(value or "")
    elif kind in ("select", "status"):
        stored = {"name": value, "color": "default"} if value else None
    elif kind == "multi_select":
        stored = [{"name": item, "color": "default"} for item in value or []]
    elif kind == "date":
        stored = {"start": value, "end": None, "time_zone": None} if value else None
    elif kind == "checkbox":
        stored = bool(value)
    elif kind in ("people", "relation", "files"):
        stored = value or []
    else:
        stored = value
    return {"type": kind, kind: stored}


def _validate_properties(properties: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for name, value in properties.items():
        if name not in schema:
            raise NotionValidationError(f"{name} is not a property that exists.")
        kind = schema[name]["type"]
        if not isinstance(value, dict) or kind not in value:
            raise NotionValidationError(f"{name} is expected to be {kind}.")
        inner = value[kind]
        if kind in _RICH_TEXT_TYPES:
            _check_rich_text(inner, f"body.properties.{name}.{kind}")
            inner = [{**item, "plain_text": item["text"]["content"], "href": None} for item in inner]
        elif kind in ("select", "status") and inner is not None:
            inner = {"name": inner["name"], "color": "default"}
        elif kind == "multi_select":
            inner = [{"name": item["name"], "color": "default"} for item in inner]
        elif kind == "number" and inner is not None and not isinstance(inner, int | float):
            raise NotionValidationError(
                f"body failed validation: body.properties.{name}.number should be a number"
            )
        stored[name] = {"type": kind, kind: inner}
    return stored


def _check_rich_text(items: Any, path: str) -> None:
    if not isinstance(items, list):
        raise NotionValidationError(f"body failed validation: {path} should be an array")
    if len(items) > 100:
        raise NotionValidationError(
            f"body failed validation: {path}.length should be ≤ `100`, instead was `{len(items)}`."
        )
    for index, item in enumerate(items):
        content = item.get("text", {}).get("content", "")
        if len(content) > 2000:
            raise NotionValidationError(
                f"body failed validation: {path}[{index}].text.content.length should be ≤ `2000`, "
                f"instead was `{len(content)}`."
            )


def _check_children(children: list[Any], path: str) -> None:
    if len(children) > 100:
        raise NotionValidationError(
            f"body failed validation: {path}.length should be ≤ `100`, instead was `{len(children)}`."
        )
    for index, block in enumerate(children):
        kind = block.get("type")
        if not kind or kind not in block:
            raise NotionValidationError(f"body failed validation: {path}[{index}] should have a block type")
        if "rich_text" in block[kind]:
            _check_rich_text(block[kind]["rich_text"], f"{path}[{index}].{kind}.rich_text")


def _stored_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    content = dict(block[kind])
    if "rich_text" in content:
        content["rich_text"] = [
            {**item, "plain_text": item["text"]["content"]} for item in content["rich_text"]
        ]
    return {"object": "block", "id": str(uuid.uuid4()), "type": kind, "has_children": False, kind: content}


def _paginate(items: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    page_size = int(body.get("page_size", 100))
    if not 1 <= page_size <= 100:
        raise NotionValidationError("body failed validation: body.page_size should be ≤ `100`.")
    start = 0
    cursor = body.get("start_cursor")
    if cursor:
        ids = [item["id"] for item in items]
        if cursor not in ids:
            raise NotionValidationError(f"The start_cursor provided is invalid: {cursor}")
        start = ids.index(cursor)
    chunk = items[start : start + page_size]
    has_more = start + page_size < len(items)
    return {
        "object": "list",
        "results": chunk,
        "next_cursor": items[start + page_size]["id"] if has_more else None,
        "has_more": has_more,
        "type": "page_or_database",
        "page_or_database": {},
    }


def _value(page: dict[str, Any], name: str) -> Any:
    prop = page["properties"].get(name)
    if prop is None:
        raise NotionValidationError(f"Could not find property with name or id: {name}")
    kind = prop["type"]
    value = prop[kind]
    if kind in _RICH_TEXT_TYPES:
        return _plain(value)
    if kind in ("select", "status"):
        return value["name"] if value else None
    if kind == "multi_select":
        return [item["name"] for item in value]
    if kind == "date":
        return value["start"] if value else None
    return value


def _filter_matches(page: dict[str, Any], condition: dict[str, Any]) -> bool:
    if "and" in condition:
        return all(_filter_matches(page, inner) for inner in condition["and"])
    if "or" in condition:
        return any(_filter_matches(page, inner) for inner in condition["or"])
    name = condition.get("property")
    if not isinstance(name, str):
        raise NotionValidationError("body failed validation: body.filter.property should be defined")
    value = _value(page, name)
    kind = page["properties"][name]["type"]
    operators = condition.get(kind)
    if not isinstance(operators, dict):
        raise NotionValidationError(f"body failed validation: body.filter.{kind} should be defined")
    return all(_compare(value, operator, expected) for operator, expected in operators.items())


def _compare(value: Any, operator: str, expected: Any) -> bool:
    checks: dict[str, Callable[[], bool]] = {
        "equals": lambda: value == expected,
        "does_not_equal": lambda: value != expected,
        "contains": lambda: expected in (value or ""),
        "does_not_contain": lambda: expected not in (value or ""),
        "is_empty": lambda: value in (None, "", []),
        "is_not_empty": lambda: value not in (None, "", []),
        "greater_than": lambda: value is not None and value > expected,
        "less_than": lambda: value is not None and value < expected,
        "on_or_after": lambda: value is not None and value >= expected,
        "on_or_before": lambda: value is not None and value <= expected,
        "after": lambda: value is not None and value > expected,
        "before": lambda: value is not None and value < expected,
    }
    if operator not in checks:
        raise NotionValidationError(f"body failed validation: unsupported filter operator {operator}")
    return checks[operator]()


def _sort_key(page: dict[str, Any], sort: dict[str, Any]) -> tuple[bool, Any]:
    value = page[sort["timestamp"]] if "timestamp" in sort else _value(page, sort["property"])
    return (value is None, value if value is not None else 0)
