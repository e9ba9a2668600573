from __future__ import annotations

from pydantic import Field

from autofy.connectors.notion.blocks import blocks_to_text
from autofy.connectors.notion.client import NotionClient
from autofy.connectors.notion.properties import SimplePage, notion_id, simplify_page
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel

# Enough for a long document; the content is for templates and models, not a full export.
MAX_CONTENT_BLOCKS = 1000


class GetPageInput(StrictModel):
    page_id: str = Field(description="The page to read (its id or link).")
    include_content: bool = Field(
        default=False, description="Also read the page's content (its blocks) as markdown-like text."
    )


class PageWithContent(SimplePage):
    content: str = Field(description="The page content as markdown-like text; empty unless include_content.")


class GetPage(Action[GetPageInput, PageWithContent]):
    name = "get_page"
    display_name = "Get page"
    description = "Read a Notion page: title, property values as plain values and, optionally, its content."
    input_model = GetPageInput
    output_model = PageWithContent

    async def run(self, ctx: ConnectorContext, params: GetPageInput) -> PageWithContent:
        client = NotionClient(ctx)
        page_id = notion_id(params.page_id)
        page = simplify_page(await client.get_page(page_id))
        content = ""
        if params.include_content:
            content = blocks_to_text(await client.block_children(page_id, MAX_CONTENT_BLOCKS))
        return PageWithContent(**page.model_dump(), content=content)
