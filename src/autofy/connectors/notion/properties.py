"""Page properties both ways: simple values → Notion property values (by the property's type),
and Notion pages → plain values a workflow can use ({{ steps.get_page.properties.Status }})."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from autofy.connectors.notion.blocks import plain_text, rich_text
from autofy.connectors.sdk import PermanentError, TransientError

_HEX_ID = re.compile(
    r"([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})", re.IGNORECASE
)
# Types whose values Notion computes; they cannot be written.
_COMPUTED = frozenset(
    {"formula", "rollup", "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id"}
)


def notion_id(value: str) -> str:
    """A Notion id from an id (with or without dashes) or a page/database link, in dashed form."""
    # In a link the id ends the last path segment ("My-Page-<32 hex>"); a "?v=" view id is not it.
    segment = value.strip().split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]
    match = _HEX_ID.search(segment.replace("-", ""))
    if not match:
        raise PermanentError(f"'{value}' is not a Notion id or link")
    hex_id = match.group(0).lower()
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def json_value(value: Any) -> Any:
    """Filters and raw property objects may arrive as JSON text (from a template); parse them."""
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            raise PermanentError("not valid JSON: " + value[:80]) from None
    return value


def to_property_values(values: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """Notion property values for `values`, given each property's type (name → type)."""
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            known = ", ".join(sorted(types)) or "none"
            raise PermanentError(f"Notion has no property '{name}' here. Properties: {known}")
        converted[name] = to_property_value(name, json_value(value), types[name])
    return converted


def to_property_value(name: str, value: Any, kind: str) -> dict[str, Any]:
    if isinstance(value, dict) and kind in value:
        return value  # already a Notion property value: passed through as given
    if kind in _COMPUTED:
        raise PermanentError(f"property '{name}' ({kind}) is computed by Notion and cannot be set")
    if kind in ("title", "rich_text"):
        return {kind: rich_text("" if value is None else str(value))}
    if kind == "number":
        return {"number": _number(name, value)}
    if kind == "checkbox":
        return {
            "checkbox": value
            if isinstance(value, bool)
            else str(value).strip().lower() in ("true", "yes", "1")
        }
    if kind in ("select", "status"):
        return {kind: {"name": str(value)} if value not in (None, "") else None}
    if kind == "multi_select":
        return {"multi_select": [{"name": item} for item in _items(value)]}
    if kind == "date":
        return {"date": _date(value)}
    if kind in ("url", "email", "phone_number"):
        return {kind: str(value) if value not in (None, "") else None}
    if kind in ("people", "relation"):
        return {kind: [{"id": notion_id(item) if kind == "relation" else item} for item in _items(value)]}
    if kind == "files":
        return {
            "files": [
                {"name": url[-100:], "type": "external", "external": {"url": url}} for url in _items(value)
            ]
        }
    raise PermanentError(f"property '{name}' has type '{kind}'; pass a Notion property object for it")


def _number(name: str, value: Any) -> float | int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise PermanentError(f"property '{name}' needs a number, not {value}")
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        raise PermanentError(f"property '{name}' needs a number, not '{value}'") from None
    return int(number) if number.is_integer() else number


def _items(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _date(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return value
    start, _, end = str(value).partition("/")  # ISO 8601 interval "start/end"
    return {"start": start, "end": end} if end else {"start": start}


# --- Notion → plain values ----------------------------------------------------------------------


def plain_value(prop: Mapping[str, Any]) -> Any:
    kind = str(prop.get("type", ""))
    value = prop.get(kind)
    if kind in ("title", "rich_text"):
        return plain_text(value)
    if kind in ("select", "status"):
        return value.get("name") if isinstance(value, dict) else None
    if kind == "multi_select":
        return [item.get("name") for item in value or []]
    if kind == "date":
        if not isinstance(value, dict):
            return None
        return f"{value['start']}/{value['end']}" if value.get("end") else value.get("start")
    if kind == "people":
        return [person.get("name") or person.get("id") for person in value or []]
    if kind == "relation":
        return [item.get("id") for item in value or []]
    if kind == "files":
        return [item.get("name") for item in value or []]
    if kind in ("formula", "rollup") and isinstance(value, dict):
        inner = value.get(str(value.get("type")))
        return inner.get("start") if isinstance(inner, dict) else inner
    if kind in ("created_by", "last_edited_by") and isinstance(value, dict):
        return value.get("name") or value.get("id")
    if kind == "unique_id" and isinstance(value, dict):
        prefix = value.get("prefix")
        return f"{prefix}-{value.get('number')}" if prefix else value.get("number")
    return value


class SimplePage(BaseModel):
    id: str = Field(description="Notion page id.")
    url: str = Field(description="Link to the page in Notion.")
    title: str = Field(description="The page title as plain text.")
    properties: dict[str, Any] = Field(
        description="Each property as a plain value: text, number, true/false, a select's name, a list "
        "of names for multi-select and people, a date as ISO text ('start/end' for a range)."
    )
    archived: bool = Field(description="Whether the page is archived (in the trash).")
    created_time: str = Field(description="When the page was created, ISO 8601.")
    last_edited_time: str = Field(description="When the page was last edited, ISO 8601.")


def simplify_page(page: Mapping[str, Any]) -> SimplePage:
    properties = page.get("properties")
    if not isinstance(properties, dict) or "id" not in page:
        raise TransientError("Notion answered with something that is not a page")
    title = next((plain_text(p.get("title")) for p in properties.values() if p.get("type") == "title"), "")
    return SimplePage(
        id=str(page["id"]),
        url=str(page.get("url", "")),
        title=title,
        properties={name: plain_value(prop) for name, prop in properties.items()},
        archived=bool(page.get("archived") or page.get("in_trash")),
        created_time=str(page.get("created_time", "")),
        last_edited_time=str(page.get("last_edited_time", "")),
    )


def property_types(properties: Any) -> dict[str, str]:
    """name → type from a database schema's or a page's `properties`."""
    if not isinstance(properties, dict):
        raise TransientError("Notion answered without properties")
    return {name: str(prop.get("type", "")) for name, prop in properties.items()}
