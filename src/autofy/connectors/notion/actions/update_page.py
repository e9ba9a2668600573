from __future__ import annotations

from typing import Any

from pydantic import Field

from autofy.connectors.notion.actions.create_page import PROPERTIES_HELP
from autofy.connectors.notion.client import NotionClient
from autofy.connectors.notion.properties import (
    SimplePage,
    notion_id,
    property_types,
    simplify_page,
    to_property_values,
)
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class UpdatePageInput(StrictModel):
    page_id: str = Field(description="The page to change (its id or link).")
    properties: dict[str, Any] = Field(
        default={}, description=PROPERTIES_HELP + " Only the properties given are changed."
    )
    archived: bool | None = Field(
        default=None, description="true to archive (trash) the page, false to restore it; empty to leave it."
    )


class UpdatePage(Action[UpdatePageInput, SimplePage]):
    name = "update_page"
    display_name = "Update page"
    description = "Change property values of a Notion page (e.g. a database row's Status), or archive it."
    input_model = UpdatePageInput
    output_model = SimplePage

    async def run(self, ctx: ConnectorContext, params: UpdatePageInput) -> SimplePage:
        client = NotionClient(ctx)
        page_id = notion_id(params.page_id)
        body: dict[str, Any] = {}
        if params.properties:
            # A page lists all its properties with their types, so it is its own schema.
            types = property_types((await client.get_page(page_id)).get("properties"))
            body["properties"] = to_property_values(params.properties, types)
        if params.archived is not None:
            body["archived"] = params.archived
        page = await client.call("PATCH", f"/pages/{page_id}", json=body)
        return simplify_page(page)
