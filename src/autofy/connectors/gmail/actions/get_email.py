from __future__ import annotations

from pydantic import Field

from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.gmail.messages import Email, to_email
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class GetEmailInput(StrictModel):
    message_id: str = Field(description="Gmail id of the email, e.g. {{ trigger.id }}.")


async def fetch_email(client: GmailClient, message_id: str) -> Email:
    message = await client.get_message(message_id)
    return to_email(message, await client.label_names(message.labelIds))


class GetEmail(Action[GetEmailInput, Email]):
    name = "get_email"
    display_name = "Get email"
    description = (
        "Read one email: sender, recipients, subject, date, plain-text body, snippet, labels and "
        "attachment names."
    )
    input_model = GetEmailInput
    output_model = Email

    async def run(self, ctx: ConnectorContext, params: GetEmailInput) -> Email:
        return await fetch_email(GmailClient(ctx), params.message_id)
