"""Gmail API v1 calls on behalf of the connected mailbox (`users/me`)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from autofy.connectors.gmail.messages import GmailMessage
from autofy.connectors.gmail.oauth import access_token_is_fresh, refresh_credentials
from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
    json_body,
    send,
)

PROVIDER = "Gmail"
DEFAULT_API_BASE = "https://gmail.googleapis.com"
# Google reports per-user rate limits as 403 with one of these reasons, not as 429.
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
ModelT = TypeVar("ModelT", bound=BaseModel)


class Profile(BaseModel):
    emailAddress: str
    historyId: str


class Label(BaseModel):
    id: str
    name: str


class MessageRef(BaseModel):
    id: str
    threadId: str = ""


class _MessageList(BaseModel):
    messages: list[MessageRef] = []
    nextPageToken: str | None = None


class _LabelList(BaseModel):
    labels: list[Label] = []


class _MessageAdded(BaseModel):
    message: MessageRef


class _HistoryRecord(BaseModel):
    id: str
    messagesAdded: list[_MessageAdded] = []


class HistoryPage(BaseModel):
    history: list[_HistoryRecord] = []
    historyId: str
    nextPageToken: str | None = None

    def added_message_ids(self) -> list[str]:
        return [added.message.id for record in self.history for added in record.messagesAdded]


class _GoogleErrorReader:
    """Reads Google's error body (`{"error": {"code", "message", "errors": [{"reason"}]}}`)."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def __call__(self, response: httpx.Response) -> str | None:
        error = response.json()["error"]
        self.reasons = {str(item.get("reason")) for item in error.get("errors", [])}
        return str(error["message"])


class GmailClient:
    """One mailbox's API, with the access token refreshed when it is about to expire."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx
        self._base = f"{ctx.api_base(DEFAULT_API_BASE)}/gmail/v1/users/me"
        self._labels: list[Label] | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        """One API call; a 401 on a token we thought valid gets one refresh and one retry."""
        refreshed = False
        while True:
            if refreshed or not access_token_is_fresh(self._ctx.credentials):
                await refresh_credentials(self._ctx)
                refreshed = True
            request = self._ctx.http.build_request(
                method,
                self._base + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {self._ctx.credentials['access_token']}"},
            )
            reader = _GoogleErrorReader()
            try:
                response = await send(self._ctx, request, provider=PROVIDER, error_message=reader)
            except AuthenticationError as error:
                if error.status_code == 401 and not refreshed:
                    refreshed = True
                    continue
                if error.status_code == 403 and reader.reasons & _RATE_LIMIT_REASONS:
                    raise TransientError(error.message, status_code=403) from None
                raise
            return json_body(response, provider=PROVIDER)

    async def profile(self) -> Profile:
        return _parse(Profile, await self.call("GET", "/profile"))

    async def get_message(self, message_id: str) -> GmailMessage:
        return _parse(
            GmailMessage, await self.call("GET", f"/messages/{message_id}", params={"format": "full"})
        )

    async def list_message_ids(self, query: str, limit: int) -> list[str]:
        """Ids of messages matching a Gmail search, newest first, at most `limit`."""
        ids: list[str] = []
        page_token: str | None = None
        while len(ids) < limit:
            params: dict[str, Any] = {"q": query, "maxResults": min(500, limit - len(ids))}
            if page_token:
                params["pageToken"] = page_token
            page = _parse(_MessageList, await self.call("GET", "/messages", params=params))
            ids.extend(ref.id for ref in page.messages)
            page_token = page.nextPageToken
            if not page_token:
                break
        return ids[:limit]

    async def history_page(
        self, start_history_id: str, label_id: str | None, page_token: str | None
    ) -> HistoryPage:
        params: dict[str, Any] = {"startHistoryId": start_history_id, "historyTypes": "messageAdded"}
        if label_id:
            params["labelId"] = label_id
        if page_token:
            params["pageToken"] = page_token
        return _parse(HistoryPage, await self.call("GET", "/history", params=params))

    async def send_raw(self, raw: str, thread_id: str | None = None) -> MessageRef:
        body: dict[str, Any] = {"raw": raw}
        if thread_id:
            body["threadId"] = thread_id
        return _parse(MessageRef, await self.call("POST", "/messages/send", json=body))

    async def modify(self, message_id: str, *, add: list[str], remove: list[str]) -> GmailMessage:
        body = {"addLabelIds": add, "removeLabelIds": remove}
        return _parse(GmailMessage, await self.call("POST", f"/messages/{message_id}/modify", json=body))

    async def labels(self) -> list[Label]:
        if self._labels is None:
            self._labels = _parse(_LabelList, await self.call("GET", "/labels")).labels
        return self._labels

    async def label_id(self, name_or_id: str) -> str:
        """The id of a label given its name (case-insensitive) or id; a clear error otherwise."""
        labels = await self.labels()
        wanted = name_or_id.strip().casefold()
        for label in labels:
            if wanted in (label.id.casefold(), label.name.casefold()):
                return label.id
        known = ", ".join(sorted(label.name for label in labels))
        raise PermanentError(f"Gmail has no label named '{name_or_id}'. Labels in this mailbox: {known}")

    async def label_names(self, label_ids: list[str]) -> list[str]:
        by_id = {label.id: label.name for label in await self.labels()}
        return [by_id.get(label_id, label_id) for label_id in label_ids]


def _parse(model: type[ModelT], body: Any) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise TransientError(f"{PROVIDER} answered with an unexpected body") from None
