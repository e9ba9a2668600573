from __future__ import annotations

from pydantic import Field

from autofy.connectors.notion.actions.create_page import CONTENT_HELP
from autofy.connectors.notion.blocks import markdown_to_blocks
from autofy.connectors.notion.client import NotionClient
from autofy.connectors.notion.properties import notion_id
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class AppendToPageInput(StrictModel):
    page_id: str = Field(description="The page to add to (its id or link).")
    content: str = Field(description=CONTENT_HELP)


class AppendedContent(StrictModel):
    page_id: str = Field(description="Id of the page.")
    blocks_added: int = Field(description="How many blocks (paragraphs, headings, list items …) were added.")


class AppendToPage(Action[AppendToPageInput, AppendedContent]):
    name = "append_to_page"
    display_name = "Append to page"
    description = "Add content (markdown-like text) to the end of an existing Notion page."
    input_model = AppendToPageInput
    output_model = AppendedContent

    async def run(self, ctx: ConnectorContext, params: AppendToPageInput) -> AppendedContent:
        page_id = notion_id(params.page_id)
        blocks = markdown_to_blocks(params.content)
        await NotionClient(ctx).append_blocks(page_id, blocks)
        return AppendedContent(page_id=page_id, blocks_added=len(blocks))
