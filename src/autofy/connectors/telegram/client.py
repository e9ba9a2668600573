"""Telegram Bot API calls. The bot token is part of every URL, so no URL is ever put in a message
or a log line: errors are built from Telegram's `description`, and httpx's request log is redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import httpx

from autofy.connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
    json_body,
    send,
)

PROVIDER = "Telegram"
DEFAULT_API_BASE = "https://api.telegram.org"
_BOT_TOKEN_IN_PATH = re.compile(r"/bot[^/\s\"']+")


def redact_bot_tokens(text: str) -> str:
    return _BOT_TOKEN_IN_PATH.sub("/bot<redacted>", text)


class _RedactBotTokens(logging.Filter):
    """httpx logs every request's URL at INFO; with Telegram that URL holds the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg = redact_bot_tokens(message)
            record.args = ()
        return True


_REDACTOR = _RedactBotTokens()
logging.getLogger("httpx").addFilter(_REDACTOR)


class _TelegramErrorReader:
    """Reads `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def __call__(self, response: httpx.Response) -> str | None:
        body = response.json()
        retry_after = (body.get("parameters") or {}).get("retry_after")
        if isinstance(retry_after, int | float):
            self.retry_after = float(retry_after)
        return str(body["description"])


class TelegramClient:
    def __init__(self, ctx: ConnectorContext) -> None:
        self._ctx = ctx
        self._base = ctx.api_base(DEFAULT_API_BASE)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call a Bot API method; returns its `result`."""
        token = str(self._ctx.credentials.get("bot_token", ""))
        request = self._ctx.http.build_request("POST", f"{self._base}/bot{token}/{method}", json=params or {})
        reader = _TelegramErrorReader()
        try:
            response = await send(self._ctx, request, provider=PROVIDER, error_message=reader)
        except TransientError as error:
            # Telegram puts the wait in the body (parameters.retry_after), not in a header.
            if error.retry_after is None:
                error.retry_after = reader.retry_after
            raise
        except AuthenticationError as error:
            if error.status_code == 403:  # the bot may not write to that chat; the token is fine
                raise PermanentError(error.message, status_code=403) from None
            raise
        except PermanentError as error:
            if error.status_code == 404:  # Telegram's answer to a token that is not a token at all
                raise AuthenticationError(
                    f"{error.message} (the bot token is not valid)", status_code=404
                ) from None
            raise
        body = json_body(response, provider=PROVIDER)
        if not isinstance(body, dict) or body.get("ok") is not True or "result" not in body:
            raise TransientError(f"{PROVIDER} answered with an unexpected body")
        return body["result"]

    async def get_updates(self, offset: int | None, *, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "timeout": 0}
        if offset is not None:
            params["offset"] = offset
        try:
            updates = await self.call("getUpdates", params)
        except PermanentError as error:
            if error.status_code == 409:
                raise PermanentError(
                    f"{error.message}. This bot delivers its messages to a webhook: an active workflow "
                    "with the Telegram new_message trigger (pause it) or another program (remove the "
                    "webhook with deleteWebhook).",
                    status_code=409,
                ) from None
            raise
        if not isinstance(updates, list) or not all(
            isinstance(u, dict) and "update_id" in u for u in updates
        ):
            raise TransientError(f"{PROVIDER} answered getUpdates with an unexpected body")
        return updates

    async def set_webhook(self, url: str, *, secret_token: str, allowed_updates: Sequence[str]) -> None:
        """Have Telegram POST the bot's updates to `url`, each with `X-Telegram-Bot-Api-Secret-Token:
        <secret_token>`; getUpdates stops working until the webhook is deleted."""
        await self.call(
            "setWebhook",
            {"url": url, "secret_token": secret_token, "allowed_updates": list(allowed_updates)},
        )

    async def webhook_url(self) -> str:
        """Where the bot's updates go now; empty when no webhook is set."""
        info = await self.call("getWebhookInfo")
        if not isinstance(info, dict):
            raise TransientError(f"{PROVIDER} answered getWebhookInfo with an unexpected body")
        return str(info.get("url") or "")

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")


def message_of(update: dict[str, Any]) -> dict[str, Any] | None:
    """The message an update carries (a private/group message or a channel post), if any."""
    message = update.get("message") or update.get("channel_post")
    return message if isinstance(message, dict) else None
