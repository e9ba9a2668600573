from __future__ import annotations

from email.utils import getaddresses

from pydantic import Field

from autofy.connectors.gmail.actions.send_email import SentEmail
from autofy.connectors.gmail.client import GmailClient
from autofy.connectors.gmail.compose import build_raw
from autofy.connectors.sdk import Action, ConnectorContext, StrictModel


class ReplyToEmailInput(StrictModel):
    message_id: str = Field(description="Gmail id of the email to answer, e.g. {{ trigger.id }}.")
    body_text: str = Field(default="", description="Plain-text body of the reply.")
    body_html: str = Field(default="", description="HTML body of the reply (optional).")
    reply_all: bool = Field(
        default=False, description="Also answer everyone in To and Cc of the original, not only its sender."
    )


class ReplyToEmail(Action[ReplyToEmailInput, SentEmail]):
    name = "reply_to_email"
    display_name = "Reply to email"
    description = (
        "Reply to an email in its own thread (same conversation in Gmail), to the sender or to everyone."
    )
    input_model = ReplyToEmailInput
    output_model = SentEmail

    async def run(self, ctx: ConnectorContext, params: ReplyToEmailInput) -> SentEmail:
        client = GmailClient(ctx)
        original = await client.get_message(params.message_id)
        to = [original.header("Reply-To") or original.header("From")]
        cc: list[str] = []
        if params.reply_all:
            own_address = (await client.profile()).emailAddress.casefold()
            answered = {address.casefold() for _, address in getaddresses(to)} | {own_address}
            for name, address in getaddresses([original.header("To"), original.header("Cc")]):
                if address and address.casefold() not in answered:
                    answered.add(address.casefold())
                    cc.append(f"{name} <{address}>" if name else address)
        subject = original.header("Subject")
        if not subject.casefold().startswith("re:"):
            subject = f"Re: {subject}"
        message_id_header = original.header("Message-ID")
        threading = {}
        if message_id_header:
            references = f"{original.header('References')} {message_id_header}".strip()
            threading = {"In-Reply-To": message_id_header, "References": references}
        raw = build_raw(
            to=to,
            cc=cc,
            subject=subject,
            body_text=params.body_text,
            body_html=params.body_html,
            extra_headers=threading,
        )
        sent = await client.send_raw(raw, thread_id=original.threadId)
        return SentEmail(id=sent.id, thread_id=sent.threadId)
