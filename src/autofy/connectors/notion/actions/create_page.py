from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from autofy.connectors.notion.blocks import markdown_to_blocks, rich_text
from autofy.connectors.notion.client import NotionClient, request_chunks
from autofy.connectors.notion.properties import notion_id, property_types, to_property_values
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel, TransientError

PROPERTIES_HELP = (
    "Property values by property name. Simple values are converted using the database's property "
    "types: text, a number, true/false, an option name for select/status, a list (or comma-separated "
    "text) for multi-select, an ISO date ('2026-01-01', or 'start/end'). A full Notion property "
    'object (e.g. {"select": {"name": "Done"}}) is passed through as given.'
)
CONTENT_HELP = (
    "Page content as markdown-like text: '#', '##', '###' headings, '- ' bullets, '1. ' numbered "
    "items, '- [ ] ' to-dos, '> ' quotes, ``` code fences, '---' dividers; other lines are paragraphs."
)


class CreatePageInput(StrictModel):
    parent_database_id: str = Field(
        default="",
        description="Create the page as a row of this database (its id or link). Give this or parent_page_id.",
    )
    parent_page_id: str = Field(
        default="",
        description="Create the page under this page (its id or link). Give this or parent_database_id.",
    )
    title: str = Field(default="", description="The page title.")
    properties: dict[str, Any] = Field(default={}, description=PROPERTIES_HELP)
    content: str = Field(default="", description=CONTENT_HELP)

    @model_validator(mode="after")
    def _one_parent(self) -> CreatePageInput:
        if bool(self.parent_database_id) == bool(self.parent_page_id):
            raise ValueError("give exactly one of parent_database_id and parent_page_id")
        if self.parent_page_id and self.properties:
            raise ValueError("properties can only be set on a page in a database (parent_database_id)")
        return self


class CreatedPage(StrictModel):
    id: str = Field(description="Id of the new page.")
    url: str = Field(description="Link to the new page in Notion.")


class CreatePage(Action[CreatePageInput, CreatedPage]):
    name = "create_page"
    display_name = "Create page"
    description = (
        "Create a Notion page, as a row of a database (with property values) or under another page, "
        "with a title and content written as markdown-like text."
    )
    input_model = CreatePageInput
    output_model = CreatedPage

    async def run(self, ctx: ConnectorContext, params: CreatePageInput) -> CreatedPage:
        client = NotionClient(ctx)
        if params.parent_database_id:
            database_id = notion_id(params.parent_database_id)
            types = property_types((await client.get_database(database_id)).get("properties"))
            properties = to_property_values(params.properties, types)
            title_property = next((name for name, kind in types.items() if kind == "title"), "title")
            parent: dict[str, Any] = {"database_id": database_id}
        else:
            properties = {}
            title_property = "title"
            parent = {"page_id": notion_id(params.parent_page_id)}
        if params.title:
            properties[title_property] = {"title": rich_text(params.title)}
        first, *rest = request_chunks(markdown_to_blocks(params.content)) or [[]]
        page = await client.call(
            "POST", "/pages", json={"parent": parent, "properties": properties, "children": first}
        )
        page_id = str(page.get("id", ""))
        if not page_id:
            raise TransientError("Notion answered without the new page's id")
        await client.append_blocks(page_id, [block for chunk in rest for block in chunk])
        return CreatedPage(id=page_id, url=str(page.get("url", "")))
