from __future__ import annotations

from pydantic import Field

from autofy.connectors.gmail.actions.get_email import fetch_email
from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.gmail.messages import Email
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class SearchEmailsInput(StrictModel):
    query: str = Field(
        description="Gmail search, as typed in Gmail's search box, e.g. "
        "'from:billing@example.com is:unread newer_than:7d'."
    )
    max_results: int = Field(default=10, ge=1, le=100, description="At most this many emails (1-100).")


class SearchEmailsOutput(StrictModel):
    messages: list[Email] = Field(description="Matching emails, newest first.")
    count: int = Field(description="How many emails were returned.")


class SearchEmails(Action[SearchEmailsInput, SearchEmailsOutput]):
    name = "search_emails"
    display_name = "Search emails"
    description = "Find emails with a Gmail search query and read each one (newest first)."
    input_model = SearchEmailsInput
    output_model = SearchEmailsOutput

    async def run(self, ctx: ConnectorContext, params: SearchEmailsInput) -> SearchEmailsOutput:
        client = GmailClient(ctx)
        ids = await client.list_message_ids(params.query, params.max_results)
        messages = [await fetch_email(client, message_id) for message_id in ids]
        return SearchEmailsOutput(messages=messages, count=len(messages))
