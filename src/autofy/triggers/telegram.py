"""Telegram's `new_message` as the trigger of a webhook workflow (step 1 `telegram/new_message`).

Telegram pushes a bot's updates to one HTTPS URL, so such a workflow has Telegram deliver to its
hook URL: activation calls setWebhook with the URL and a secret token (the webhook's generated
signing secret), pause and archive remove the webhook, rotation registers the new URL. Telegram
does not sign bodies; each delivery carries the secret in `X-Telegram-Bot-Api-Secret-Token`,
compared in constant time instead of Autofy's HMAC headers. An update becomes the trigger's item
(the one a poll would produce) and starts one run keyed by its update_id, so Telegram's
re-deliveries start nothing new. An update the trigger's filters leave out starts nothing and is
answered 200 all the same: Telegram re-sends anything that is not 2xx.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any, TypeGuard

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.connectors.sdk import AuthenticationError, ConnectorError
from autofy.connectors.telegram.triggers import NewMessage, NewMessageConfig
from autofy.errors import BadRequestError, ConflictError, ValidationFailedError
from autofy.input_guard import MAX_JSON_DEPTH, UnstorableInput, check_storable
from autofy.triggers import repository
from autofy.triggers.polling import ConnectorAccess, trigger_config
from autofy.triggers.runs import start_or_record

logger = logging.getLogger(__name__)

SERVICE_NAME = "telegram"
TRIGGER_STEP = (SERVICE_NAME, "new_message")
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name, not a secret)
_NEW_MESSAGE = NewMessage()


def names_trigger(trigger_step: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    """Whether a webhook workflow's trigger step is Telegram's new_message."""
    return (
        trigger_step is not None
        and (trigger_step["service_name"], trigger_step["action_name"]) == TRIGGER_STEP
    )


def _config(trigger_step: Mapping[str, Any]) -> NewMessageConfig:
    config = trigger_config(_NEW_MESSAGE, trigger_step["configuration"] or {})
    assert isinstance(config, NewMessageConfig)
    return config


async def register(
    session: AsyncSession,
    access: ConnectorAccess,
    *,
    workflow_id: uuid.UUID,
    user_id: uuid.UUID,
    trigger_step: Mapping[str, Any],
    url: str,
    secret_token: str,
) -> None:
    """Have the user's bot deliver its messages to `url` (runs as the service role).

    A bot has one webhook: when another active workflow of the user already receives the bot's
    messages, this one would silently take them away, so it is refused (ConflictError). Telegram's
    refusal raises the ConnectorError it answered with.
    """
    _config(trigger_step)  # an invalid filter fails the activation rather than every delivery
    # Two activations at once would both find no other workflow; the lock makes them take turns.
    await repository.lock_integration(session, user_id, SERVICE_NAME)
    other = await repository.active_workflow_named_by(
        session, user_id=user_id, trigger_type="webhook", trigger_step=TRIGGER_STEP, other_than=workflow_id
    )
    if other is not None:
        raise ConflictError(
            f"The active workflow {other!r} already receives this Telegram bot's messages, and a bot "
            "delivers to one webhook only. Pause that workflow first, or handle both cases in one "
            "workflow with conditions."
        )
    async with access.context(session, user_id=user_id, service_name=SERVICE_NAME) as (ctx, _):
        await _NEW_MESSAGE.deliver_to(ctx, url, secret_token=secret_token)


def refusal_message(error: ConnectorError, public_url: str) -> str:
    """What to tell the owner when Telegram would not take the webhook, naming what to fix."""
    if isinstance(error, AuthenticationError):
        return (
            f"Telegram refused the bot token ({error.message}). Reconnect the Telegram integration "
            "with the token @BotFather gave you, then activate the workflow again."
        )
    if error.status_code == 400 and "webhook" in error.message.casefold():
        return (
            f"Telegram will not deliver to {public_url} ({error.message}). Set AUTOFY_PUBLIC_URL to "
            "the https address Telegram can reach (for local testing, an HTTPS tunnel), then activate "
            "the workflow again."
        )
    return (
        f"Could not have Telegram deliver the bot's messages: {error.message}. Nothing was changed; "
        "check the Telegram integration and try again."
    )


async def unregister(
    session: AsyncSession, access: ConnectorAccess, *, workflow_id: uuid.UUID, user_id: uuid.UUID, url: str
) -> None:
    """Remove the bot's webhook if it still points at `url`. Best effort: a workflow can always be
    paused; while it is, deliveries Telegram still sends get 404 and start nothing."""
    try:
        async with access.context(session, user_id=user_id, service_name=SERVICE_NAME) as (ctx, _):
            await _NEW_MESSAGE.stop_delivering_to(ctx, url)
    except ConnectorError as error:
        logger.warning(
            "workflow %s stopped, but its Telegram webhook could not be removed: %s",
            workflow_id,
            error.message,
        )


def secret_valid(expected: str, presented: str | None) -> bool:
    return hmac.compare_digest((presented or "").encode(), expected.encode())


async def start_run(
    session: AsyncSession, *, workflow_id: uuid.UUID, trigger_step: Mapping[str, Any], body: bytes
) -> uuid.UUID | None:
    """Start the run for a delivered update; None when the trigger's filters leave it out (or the
    engine refused the run, which is then recorded as a failed execution: Telegram is not a
    caller that would show anyone a refusal)."""
    update = _update(body)
    try:
        item = _NEW_MESSAGE.item(_config(trigger_step), update)
    except (ValueError, TypeError):  # ids or dates that are not numbers: not Telegram's shape
        raise _not_an_update() from None
    if item is None:
        return None
    return await start_or_record(
        session,
        workflow_id=workflow_id,
        trigger_type="webhook",
        trigger_data=item,
        dedupe_key=f"{SERVICE_NAME}:{update['update_id']}",
    )


def _update(body: bytes) -> dict[str, Any]:
    try:
        update = json.loads(body)
        check_storable(update, "")
    except ValueError as error:  # UnstorableInput is one
        if not isinstance(error, UnstorableInput):
            raise _not_an_update() from None
        # Not Telegram's shape either; refused rather than stored altered.
        raise BadRequestError(
            f"The update's {error.field} {error.problem}.",
            details=[{"field": error.field, "message": error.problem}],
        ) from None
    except RecursionError:
        raise BadRequestError(
            f"The update nests more than {MAX_JSON_DEPTH} levels deep.",
            details=[{"field": "body", "message": "Nested too deep."}],
        ) from None
    if not isinstance(update, dict) or type(update.get("update_id")) is not int:
        raise _not_an_update()
    return update


def _not_an_update() -> ValidationFailedError:
    return ValidationFailedError(
        "The body is not a Telegram update.",
        details=[
            {"field": "body", "message": "Expected a Telegram Update: a JSON object with an update_id."}
        ],
    )
