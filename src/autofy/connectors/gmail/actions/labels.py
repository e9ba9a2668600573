"""Actions that change an email's labels: add/remove a label, read state, archive."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel

MESSAGE_ID_HELP = "Gmail id of the email, e.g. {{ trigger.id }}."


class EmailRef(StrictModel):
    message_id: str = Field(description=MESSAGE_ID_HELP)


class LabelChangeInput(StrictModel):
    message_id: str = Field(description=MESSAGE_ID_HELP)
    label: str = Field(description="Label name as shown in Gmail (e.g. 'Receipts' or 'STARRED'), or its id.")


class LabelledEmail(StrictModel):
    id: str = Field(description="Gmail id of the email.")
    thread_id: str = Field(description="Gmail thread id of the email.")
    labels: list[str] = Field(description="Names of the labels on the email after the change.")


async def change_labels(
    ctx: ConnectorContext, message_id: str, *, add: list[str], remove: list[str]
) -> LabelledEmail:
    client = GmailClient(ctx)
    message = await client.modify(message_id, add=add, remove=remove)
    return LabelledEmail(
        id=message.id, thread_id=message.threadId, labels=await client.label_names(message.labelIds)
    )


class AddLabel(Action[LabelChangeInput, LabelledEmail]):
    name = "add_label"
    display_name = "Add label"
    description = "Put a label on an email (the label must already exist in Gmail)."
    input_model = LabelChangeInput
    output_model = LabelledEmail

    async def run(self, ctx: ConnectorContext, params: LabelChangeInput) -> LabelledEmail:
        label_id = await GmailClient(ctx).label_id(params.label)
        return await change_labels(ctx, params.message_id, add=[label_id], remove=[])


class RemoveLabel(Action[LabelChangeInput, LabelledEmail]):
    name = "remove_label"
    display_name = "Remove label"
    description = "Take a label off an email (the email itself stays where it is)."
    input_model = LabelChangeInput
    output_model = LabelledEmail

    async def run(self, ctx: ConnectorContext, params: LabelChangeInput) -> LabelledEmail:
        label_id = await GmailClient(ctx).label_id(params.label)
        return await change_labels(ctx, params.message_id, add=[], remove=[label_id])


class _SystemLabelChange(Action[EmailRef, LabelledEmail]):
    """A fixed change of Gmail's system labels (UNREAD, INBOX), whose ids are their names."""

    input_model = EmailRef
    output_model = LabelledEmail
    add: ClassVar[list[str]] = []
    remove: ClassVar[list[str]] = []

    async def run(self, ctx: ConnectorContext, params: EmailRef) -> LabelledEmail:
        return await change_labels(ctx, params.message_id, add=self.add, remove=self.remove)


class MarkRead(_SystemLabelChange):
    name = "mark_read"
    display_name = "Mark as read"
    description = "Mark an email as read (removes the UNREAD label)."
    remove: ClassVar[list[str]] = ["UNREAD"]


class MarkUnread(_SystemLabelChange):
    name = "mark_unread"
    display_name = "Mark as unread"
    description = "Mark an email as unread again (adds the UNREAD label)."
    add: ClassVar[list[str]] = ["UNREAD"]


class ArchiveEmail(_SystemLabelChange):
    name = "archive_email"
    display_name = "Archive email"
    description = "Archive an email: remove it from the inbox, keeping it in All Mail."
    remove: ClassVar[list[str]] = ["INBOX"]
