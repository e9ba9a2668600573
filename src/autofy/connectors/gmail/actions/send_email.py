from __future__ import annotations

from pydantic import Field

from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.gmail.compose import build_raw, recipients
from autofy.connectors.sdk import Action, ConnectorContext, PermanentError, StrictModel

RECIPIENTS_HELP = "a list of addresses, or one string with addresses separated by commas"


class SendEmailInput(StrictModel):
    to: list[str] | str = Field(description=f"Recipients: {RECIPIENTS_HELP}.")
    cc: list[str] | str = Field(default=[], description=f"Copy recipients: {RECIPIENTS_HELP}.")
    bcc: list[str] | str = Field(
        default=[], description=f"Hidden copy recipients (not shown to others): {RECIPIENTS_HELP}."
    )
    subject: str = Field(description="Subject line.")
    body_text: str = Field(default="", description="Plain-text body.")
    body_html: str = Field(
        default="",
        description="HTML body. When given, the email has both versions; the text one is derived "
        "from the HTML if body_text is empty.",
    )


class SentEmail(StrictModel):
    id: str = Field(description="Gmail id of the sent message.")
    thread_id: str = Field(description="Gmail thread id of the sent message.")


class SendEmail(Action[SendEmailInput, SentEmail]):
    name = "send_email"
    display_name = "Send email"
    description = "Send an email from the connected Gmail account (plain text and/or HTML, with cc and bcc)."
    input_model = SendEmailInput
    output_model = SentEmail

    async def run(self, ctx: ConnectorContext, params: SendEmailInput) -> SentEmail:
        to = recipients(params.to)
        if not to:
            raise PermanentError("send_email needs at least one recipient in 'to'")
        raw = build_raw(
            to=to,
            cc=recipients(params.cc),
            bcc=recipients(params.bcc),
            subject=params.subject,
            body_text=params.body_text,
            body_html=params.body_html,
        )
        sent = await GmailClient(ctx).send_raw(raw)
        return SentEmail(id=sent.id, thread_id=sent.threadId)
