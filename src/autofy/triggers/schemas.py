"""What the triggers' API returns."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class WebhookEndpoint(BaseModel):
    """A webhook workflow's URL and signing secret, as its owner sees them."""

    workflow_id: uuid.UUID
    url: str | None = Field(
        description="Where to send deliveries (POST or PUT); null until the workflow is first "
        "activated. Treat it as a secret: anyone holding it can start runs."
    )
    accepting: bool = Field(description="Whether deliveries start runs now (the workflow is active).")
    signing_required: bool = Field(
        description="Whether deliveries must be signed (trigger_config.require_signature, or a "
        "trigger_config.signing_secret of the workflow's own): "
        "`X-Autofy-Timestamp` (Unix seconds) and `X-Autofy-Signature: sha256=<hex HMAC-SHA256 of "
        "'<timestamp>.<body>' with the signing secret>`, at most 5 minutes old; or the Standard "
        "Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`) made with "
        "`standard_webhooks_secret`. A signed delivery starts one run however often it is sent."
    )
    signing_secret: str | None = Field(
        description="The HMAC key for signatures: the workflow's own trigger_config.signing_secret, "
        "else the one Autofy generated (replaced by rotate)."
    )
    standard_webhooks_secret: str | None = Field(
        description="The same key as Standard Webhooks libraries take it (`whsec_` + base64), for "
        "senders that sign with `webhook-id`, `webhook-timestamp` and `webhook-signature`."
    )


class WebhookAccepted(BaseModel):
    execution_id: uuid.UUID = Field(description="The run this delivery started (recorded and queued).")


class WebhookIgnored(BaseModel):
    """A delivery that was accepted but starts no run (a Telegram update the filters leave out)."""

    reason: str = Field(description="Why no run was started.")
