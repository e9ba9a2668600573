"""A fake Telegram Bot API.

`/bot<token>/<method>` with parameters as query string, JSON or url-encoded form; answers
`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"[, "parameters"]}`:
401 Unauthorized for a wrong token, 404 Not Found for an unknown method or a malformed token,
400 "Bad Request: chat not found", 403 for a bot blocked by the user, 409 for getUpdates while a
webhook is set, 400 for a webhook URL that is not https, and 429 with `parameters.retry_after` in
the body (`rate_limit`). getUpdates keeps updates until they are confirmed with a higher offset,
as Telegram does. The fake never calls a webhook itself: tests deliver `update(id)` to it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeServer

PARSE_MODES = (None, "Markdown", "MarkdownV2", "HTML")


class TelegramError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class FakeTelegram(FakeServer):
    provider = "Telegram"

    def __init__(self) -> None:
        self.token = "7012345678:AAHfakeTokenForTests_0123456789abcdef"
        self.bot = {"id": 7012345678, "is_bot": True, "first_name": "Autofy", "username": "autofy_test_bot"}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked_chats: set[int] = set()
        self.updates: list[dict[str, Any]] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (method, parameters) of every send*
        self.webhook_url = ""
        self.webhook_parameters: dict[str, Any] = {}  # of the setWebhook call that set webhook_url
        self._update_ids = itertools.count(500_000_000)
        self._message_ids = itertools.count(1)
        self._arrived = threading.Event()
        super().__init__()

    # Seeding ------------------------------------------------------------------------------------
    def add_chat(
        self, chat_id: int, *, kind: str = "private", title: str = "", username: str = ""
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or "Ada"
        else:
            chat["title"] = title or "Team"
        if username:
            chat["username"] = username
        self.chats[chat_id] = chat
        return chat

    def add_incoming_message(
        self, chat_id: int, text: str, *, sender_username: str = "ada", date: int | None = None
    ) -> int:
        """A user writes to the bot: a new pending update. Returns its update_id."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "chat": chat,
            "date": date if date is not None else int(time.time()),
            "text": text,
        }
        key = "channel_post" if chat["type"] == "channel" else "message"
        if key == "message":
            message["from"] = {
                "id": 1000 + len(sender_username),
                "is_bot": False,
                "first_name": "Ada",
                "username": sender_username,
            }
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, key: message})
        self._arrived.set()
        return update_id

    def update(self, update_id: int) -> dict[str, Any]:
        """A pending update, as Telegram would POST it to the bot's webhook."""
        return next(update for update in self.updates if update["update_id"] == update_id)

    def add_other_update(self) -> int:
        """An update that is not a message (a poll answer): it advances offsets but is no message."""
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, "poll_answer": {"poll_id": "1", "option_ids": [0]}})
        return update_id

    def rate_limit(self, retry_after: int, *, times: int = 1) -> None:
        """Telegram's flood control: 429 with the wait in the body and no Retry-After header."""
        self.fail(
            429,
            times=times,
            body={
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            },
        )

    # Errors -------------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"ok": False, "error_code": status, "description": message}

    # Routes -------------------------------------------------------------------------------------
    def routes(self) -> list[Any]:
        return [Route("/bot{token}/{method}", self._dispatch, methods=["GET", "POST"])]

    async def _dispatch(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        handler = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "getChat": self._get_chat,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "deleteWebhook": self._delete_webhook,
        }.get(method)
        try:
            if ":" not in token or handler is None:
                raise TelegramError(404, "Not Found")
            if token != self.token:
                raise TelegramError(401, "Unauthorized")
            result = await handler(await _parameters(request))
        except TelegramError as error:
            return JSONResponse(self.error_body(error.status, error.description), error.status)
        return JSONResponse({"ok": True, "result": result})

    async def _get_me(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise TelegramError(400, "Bad Request: chat_id is empty")
        for chat in self.chats.values():
            if str(chat["id"]) == str(chat_id) or (
                chat.get("username") and f"@{chat['username']}" == chat_id
            ):
                return chat
        raise TelegramError(400, "Bad Request: chat not found")

    def _new_message(self, params: dict[str, Any], method: str, **content: Any) -> dict[str, Any]:
        chat = self._chat(params)
        if chat["id"] in self.blocked_chats:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        if params.get("parse_mode") not in PARSE_MODES:
            raise TelegramError(400, f"Bad Request: unsupported parse_mode {params.get('parse_mode')}")
        self.sent.append((method, params))
        return {
            "message_id": next(self._message_ids),
            "from": {key: self.bot[key] for key in ("id", "is_bot", "first_name", "username")},
            "chat": chat,
            "date": int(time.time()),
            **content,
        }

    async def _send_message(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text") or "")
        if not text:
            raise TelegramError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise TelegramError(400, "Bad Request: message is too long")
        return self._new_message(params, "sendMessage", text=text)

    async def _send_photo(self, params: dict[str, Any]) -> Any:
        if not params.get("photo"):
            raise TelegramError(400, "Bad Request: there is no photo in the request")
        photo = [
            {
                "file_id": "AgACAgQAAxk",
                "file_unique_id": "AQAD",
                "width": 320,
                "height": 240,
                "file_size": 1024,
            }
        ]
        return self._new_message(params, "sendPhoto", photo=photo, caption=params.get("caption", ""))

    async def _send_document(self, params: dict[str, Any]) -> Any:
        if not params.get("document"):
            raise TelegramError(400, "Bad Request: there is no document in the request")
        name = str(params["document"]).rsplit("/", 1)[-1]
        document = {"file_id": "BQACAgQAAxk", "file_unique_id": "AgAD", "file_name": name}
        return self._new_message(params, "sendDocument", document=document, caption=params.get("caption", ""))

    async def _get_chat(self, params: dict[str, Any]) -> Any:
        return self._chat(params)

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset", 0))
        limit = max(1, min(int(params.get("limit", 100)), 100))
        timeout = float(params.get("timeout", 0))
        if offset < 0:
            self.updates = self.updates[offset:]  # all but the last -offset are forgotten
        elif offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones go
        self._arrived.clear()
        if not self.updates and timeout > 0:  # long polling: answer when an update arrives
            await asyncio.to_thread(self._arrived.wait, timeout)
        return self.updates[:limit]

    async def _set_webhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            raise TelegramError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        secret_token = str(params.get("secret_token", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,256}", secret_token):
            raise TelegramError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url = url
        self.webhook_parameters = params if url else {}
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates) if self.webhook_url else 0,
            "allowed_updates": self.webhook_parameters.get("allowed_updates", []),
        }

    async def _delete_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook_url = ""
        self.webhook_parameters = {}
        if params.get("drop_pending_updates") in (True, "true"):
            self.updates.clear()
        return True


async def _parameters(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            parsed = await request.json()
        except ValueError:
            raise TelegramError(400, "Bad Request: can't parse JSON object") from None
        if isinstance(parsed, dict):
            params.update(parsed)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        params.update({key: values[0] for key, values in parse_qs(body.decode()).items()})
    return params
