"""Notion API calls with an internal integration token and a pinned `Notion-Version`."""

from __future__ import annotations

import json
from typing import Any

import httpx

from autofy.connectors.sdk import ConnectorContext, TransientError, json_body, send

PROVIDER = "Notion"
DEFAULT_API_BASE = "https://api.notion.com"
# The API version this connector is written against; Notion requires the header on every call.
NOTION_VERSION = "2022-06-28"
# Notion accepts at most 100 blocks and 500 KB per request (create page, append children); stay
# under the size with room for the rest of the body.
MAX_CHILDREN_PER_REQUEST = 100
MAX_CHILDREN_BYTES = 400_000


class NotionClient:
    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx
        self._base = f"{ctx.api_base(DEFAULT_API_BASE)}/v1"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = str(self._ctx.credentials.get("token", ""))
        request = self._ctx.http.build_request(
            method,
            self._base + path,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION},
        )
        response = await send(self._ctx, request, provider=PROVIDER, error_message=_notion_error)
        body = json_body(response, provider=PROVIDER)
        if not isinstance(body, dict):
            raise TransientError(f"{PROVIDER} answered with an unexpected body")
        return body

    async def get_page(self, page_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/pages/{page_id}")

    async def get_database(self, database_id: str) -> dict[str, Any]:
        return await self.call("GET", f"/databases/{database_id}")

    async def append_blocks(self, block_id: str, blocks: list[dict[str, Any]]) -> None:
        """Append blocks in order, in requests within Notion's limits."""
        for chunk in request_chunks(blocks):
            await self.call("PATCH", f"/blocks/{block_id}/children", json={"children": chunk})

    async def block_children(self, block_id: str, limit: int) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(blocks) < limit:
            params: dict[str, Any] = {"page_size": min(100, limit - len(blocks))}
            if cursor:
                params["start_cursor"] = cursor
            page = await self.call("GET", f"/blocks/{block_id}/children", params=params)
            blocks.extend(expect_list(page, "results"))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
        return blocks


def request_chunks(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`blocks` split, in order, into groups Notion accepts in one request (count and size)."""
    chunks: list[list[dict[str, Any]]] = []
    size = 0
    for block in blocks:
        block_size = len(json.dumps(block, ensure_ascii=False).encode())
        if (
            not chunks
            or len(chunks[-1]) == MAX_CHILDREN_PER_REQUEST
            or size + block_size > MAX_CHILDREN_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += block_size
    return chunks


def expect_list(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TransientError(f"{PROVIDER} answered without a '{key}' list")
    return value


def _notion_error(response: httpx.Response) -> str | None:
    # {"object": "error", "status": 404, "code": "object_not_found", "message": "..."}
    body = response.json()
    return f"{body['message']} ({body['code']})"
