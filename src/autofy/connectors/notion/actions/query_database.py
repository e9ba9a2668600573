from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from autofy.connectors.notion.client import NotionClient, expect_list
from autofy.connectors.notion.properties import SimplePage, notion_id, simplify_page
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class QueryDatabaseInput(StrictModel):
    database_id: str = Field(description="The database to query (its id or link).")
    filter: dict[str, Any] | None = Field(
        default=None,
        description='A Notion filter object, e.g. {"property": "Status", "status": {"equals": "Done"}}, '
        'or {"and": [...]} / {"or": [...]} of such conditions. Empty for every row.',
    )
    sorts: list[dict[str, Any]] = Field(
        default=[],
        description='Notion sort objects, e.g. [{"property": "Due", "direction": "ascending"}] or '
        '[{"timestamp": "created_time", "direction": "descending"}].',
    )
    page_size: int = Field(default=100, ge=1, le=100, description="At most this many rows (1-100).")
    start_cursor: str = Field(
        default="", description="Continue after a previous query: its next_cursor. Empty to start at the top."
    )

    @field_validator("filter", mode="before")
    @classmethod
    def _filter_from_text(cls, value: Any) -> Any:
        return _from_json_text(value, empty=None)

    @field_validator("sorts", mode="before")
    @classmethod
    def _sorts_from_text(cls, value: Any) -> Any:
        return _from_json_text(value, empty=[])


def _from_json_text(value: Any, *, empty: Any) -> Any:
    """A template renders to text: accept the JSON of a filter or of sorts, and "" for none."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else empty
    return value


class QueryDatabaseOutput(StrictModel):
    results: list[SimplePage] = Field(description="The matching rows (pages), with plain property values.")
    has_more: bool = Field(description="Whether more rows match than were returned.")
    next_cursor: str | None = Field(description="Pass as start_cursor to get the next rows; null when done.")


class QueryDatabase(Action[QueryDatabaseInput, QueryDatabaseOutput]):
    name = "query_database"
    display_name = "Query database"
    description = "Find rows of a Notion database, with an optional filter and sort order, a page at a time."
    input_model = QueryDatabaseInput
    output_model = QueryDatabaseOutput

    async def run(self, ctx: ConnectorContext, params: QueryDatabaseInput) -> QueryDatabaseOutput:
        body: dict[str, Any] = {"page_size": params.page_size}
        if params.filter:
            body["filter"] = params.filter
        if params.sorts:
            body["sorts"] = params.sorts
        if params.start_cursor:
            body["start_cursor"] = params.start_cursor
        answer = await NotionClient(ctx).call(
            "POST", f"/databases/{notion_id(params.database_id)}/query", json=body
        )
        next_cursor = answer.get("next_cursor")
        return QueryDatabaseOutput(
            results=[simplify_page(page) for page in expect_list(answer, "results")],
            has_more=bool(answer.get("has_more")),
            next_cursor=str(next_cursor) if next_cursor else None,
        )
