"""The `new_email` trigger: emails that arrive after the workflow was activated.

The cursor holds the mailbox's history id: `history.list` from there names exactly the messages
added since, however many arrived in the same second. The ids already delivered are kept too (a
bounded list), so an overlap (after a history gap, or a retried poll) never delivers one twice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.gmail.messages import Email, GmailMessage, to_email
from autofy.connectors.sdk import ConnectorContext, PermanentError, PollingTrigger, PollResult, StrictModel

# Enough to cover any overlap between polls, small enough to keep the cursor cheap to store.
_SEEN_IDS_KEPT = 500
# When history is no longer available, look back this far before the last poll for missed mail.
_RESYNC_SLACK_SECONDS = 300
_RESYNC_MAX_MESSAGES = 200


class NewEmailConfig(StrictModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

    query: str = Field(
        default="",
        description="Optional Gmail search the email must match, as typed in Gmail's search box "
        "(e.g. 'from:bank.example has:attachment').",
    )
    sender: str = Field(
        default="", alias="from", description="Only emails whose From contains this text (case-insensitive)."
    )
    subject: str = Field(default="", description="Only emails whose subject contains this text.")
    keywords: list[str] = Field(
        default=[],
        description="Only emails whose subject or body contains at least one of these words "
        "(a list, or one comma-separated string).",
    )
    label: str = Field(
        default="INBOX",
        description="Only emails carrying this label (name as in Gmail, e.g. 'INBOX' or 'Receipts').",
    )

    @field_validator("keywords", mode="before")
    @classmethod
    def _split_keywords(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [word.strip() for word in value.split(",") if word.strip()]
        return value

    def accepts(self, email: Email) -> bool:
        if self.sender and self.sender.casefold() not in email.sender.casefold():
            return False
        if self.subject and self.subject.casefold() not in email.subject.casefold():
            return False
        if self.keywords:
            haystack = f"{email.subject}\n{email.body_text}".casefold()
            return any(word.casefold() in haystack for word in self.keywords)
        return True


class NewEmail(PollingTrigger[NewEmailConfig, Email]):
    name = "new_email"
    display_name = "New email"
    description = (
        "Starts the workflow for each new email that arrives in Gmail after the workflow is activated, "
        "optionally only those matching a search, sender, subject, keywords or label."
    )
    config_model = NewEmailConfig
    output_model = Email

    async def start(self, ctx: ConnectorContext, config: NewEmailConfig) -> dict[str, Any]:
        client = GmailClient(ctx)
        await client.label_id(config.label)  # an unknown label fails at activation, not later
        profile = await client.profile()
        return {"history_id": profile.historyId, "checked_at": int(time.time()), "seen": []}

    async def poll(
        self, ctx: ConnectorContext, config: NewEmailConfig, cursor: Mapping[str, Any]
    ) -> PollResult:
        if "history_id" not in cursor:
            raise PermanentError("the new_email trigger was not started (no history id in its cursor)")
        client = GmailClient(ctx)
        label_id = await client.label_id(config.label)
        seen: list[str] = [str(message_id) for message_id in cursor.get("seen", [])]
        checked_at = int(time.time())
        try:
            candidate_ids, history_id = await _added_since(client, str(cursor["history_id"]), label_id)
        except PermanentError as error:
            if error.status_code != 404:
                raise
            # Gmail keeps history for about a week; past that, find the mail by date instead.
            candidate_ids, history_id = await _added_by_date(client, cursor, label_id)
        new_ids = [message_id for message_id in candidate_ids if message_id not in seen]
        if config.query and new_ids:
            new_ids = await _matching_query(client, config.query, new_ids)
        messages = [message for message in [await _fetch(client, i) for i in new_ids] if message]
        # History lists mail in arrival order; sort by receipt time to be sure, keeping that order on ties.
        messages.sort(key=lambda message: int(message.internalDate))
        items: list[dict[str, Any]] = []
        for message in messages:
            email = to_email(message, await client.label_names(message.labelIds))
            if config.accepts(email):
                items.append(email.model_dump(by_alias=True))
        seen = (seen + new_ids)[-_SEEN_IDS_KEPT:]
        return PollResult(
            items=items, cursor={"history_id": history_id, "checked_at": checked_at, "seen": seen}
        )


async def _added_since(client: GmailClient, history_id: str, label_id: str) -> tuple[list[str], str]:
    ids: list[str] = []
    page_token: str | None = None
    while True:
        page = await client.history_page(history_id, label_id, page_token)
        ids.extend(message_id for message_id in page.added_message_ids() if message_id not in ids)
        page_token = page.nextPageToken
        if not page_token:
            return ids, page.historyId


async def _added_by_date(
    client: GmailClient, cursor: Mapping[str, Any], label_id: str
) -> tuple[list[str], str]:
    since = int(cursor.get("checked_at") or time.time()) - _RESYNC_SLACK_SECONDS
    history_id = (await client.profile()).historyId
    [label_name] = await client.label_names([label_id])
    # Gmail's search writes label names in lower case with hyphens for spaces.
    label_term = label_name.casefold().replace(" ", "-")
    ids = await client.list_message_ids(f"label:{label_term} after:{since}", _RESYNC_MAX_MESSAGES)
    return list(reversed(ids)), history_id


async def _matching_query(client: GmailClient, query: str, ids: list[str]) -> list[str]:
    # Gmail's search syntax is only understood by Gmail: ask it which of the new emails match.
    matching = set(await client.list_message_ids(query, _RESYNC_MAX_MESSAGES))
    return [message_id for message_id in ids if message_id in matching]


async def _fetch(client: GmailClient, message_id: str) -> GmailMessage | None:
    try:
        return await client.get_message(message_id)
    except PermanentError as error:
        if error.status_code == 404:  # deleted between arriving and this poll
            return None
        raise
