"""Lookups for the AI assistant and the UI: what the user's Notion integration can reach."""

from __future__ import annotations

from typing import Any

from autofy.connectors.notion.blocks import plain_text
from autofy.connectors.notion.client import NotionClient, expect_list
from autofy.connectors.sdk import ConnectorContext

MAX_DATABASES = 500


async def list_databases(ctx: ConnectorContext) -> list[dict[str, str]]:
    """Databases shared with the integration: [{"id", "title"}], as Notion's search returns them."""
    client = NotionClient(ctx)
    databases: list[dict[str, str]] = []
    body: dict[str, Any] = {"filter": {"property": "object", "value": "database"}, "page_size": 100}
    while len(databases) < MAX_DATABASES:
        answer = await client.call("POST", "/search", json=body)
        for database in expect_list(answer, "results"):
            databases.append({"id": str(database.get("id")), "title": plain_text(database.get("title"))})
        if not answer.get("has_more") or not answer.get("next_cursor"):
            break
        body["start_cursor"] = answer["next_cursor"]
    return databases
