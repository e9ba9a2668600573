"""Notion: create, update, read and query pages and databases."""

from __future__ import annotations

from typing import Any, ClassVar

from autofy.connectors.notion.actions.append_to_page import AppendToPage
from autofy.connectors.notion.actions.create_page import CreatePage
from autofy.connectors.notion.actions.get_page import GetPage
from autofy.connectors.notion.actions.query_database import QueryDatabase
from autofy.connectors.notion.actions.update_page import UpdatePage
from autofy.connectors.notion.client import DEFAULT_API_BASE, NotionClient
from autofy.connectors.notion.lookups import list_databases
from autofy.connectors.sdk import (
    Action,
    AuthSpec,
    ConnectionTestResult,
    Connector,
    ConnectorContext,
    CredentialField,
)

HOW_TO_OBTAIN = """\
1. Open https://www.notion.so/profile/integrations (Settings → Connections → Develop or manage
   integrations) and create a new internal integration for your workspace.
2. Under Capabilities, allow Read content, Update content and Insert content.
3. Copy the Internal Integration Secret (it starts with "ntn_" or "secret_") and paste it into Autofy.
4. Share each database or page Autofy should use with the integration: open it in Notion, "…" menu →
   Connections → add your integration. Pages under a shared page are shared too. Without this step
   Notion answers "Could not find database" even though it exists."""


class NotionConnector(Connector):
    service_name = "notion"
    display_name = "Notion"
    description = (
        "Create pages and database rows, append content, update properties and query databases in Notion."
    )
    auth = AuthSpec(
        kind="api_key",
        fields=[
            CredentialField(
                name="token",
                label="Internal integration secret",
                description="The secret of your Notion internal integration (starts with ntn_ or secret_).",
            )
        ],
        how_to_obtain=HOW_TO_OBTAIN,
    )
    default_api_base = DEFAULT_API_BASE
    actions: ClassVar[tuple[Action[Any, Any], ...]] = (
        CreatePage(),
        AppendToPage(),
        QueryDatabase(),
        UpdatePage(),
        GetPage(),
    )

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        me = await NotionClient(ctx).call("GET", "/users/me")
        name = str(me.get("name") or me.get("id") or "")
        workspace = (me.get("bot") or {}).get("workspace_name")
        where = f" in workspace {workspace}" if workspace else ""
        return ConnectionTestResult(ok=True, message=f"Connected to Notion as {name}{where}", account=name)


connector = NotionConnector()

__all__ = ["connector", "list_databases"]
