"""A fake Gmail API v1 and Google OAuth2 (consent screen and token endpoint).

Speaks the real paths (`/gmail/v1/users/me/...`, `/token`), bodies and Google's error shape
(`{"error": {"code", "message", "errors": [{"reason", "domain", "message"}], "status"}}`, and
`{"error": "invalid_grant", "error_description": ...}` at the token endpoint). Tests seed the mailbox
with `add_message`, read what Autofy sent in `sent`, and control tokens (`expire_access_tokens`,
`revoke`, `rotate_refresh_tokens`).
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.base import FakeServer

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_REASONS = {401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}
SYSTEM_LABELS = ("INBOX", "UNREAD", "STARRED", "IMPORTANT", "SENT", "DRAFT", "SPAM", "TRASH")


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    label_ids: list[str]
    history_id: int
    internal_date_ms: int
    mime: EmailMessage
    snippet: str

    def header(self, name: str) -> str:
        return str(self.mime.get(name, ""))

    def text(self) -> str:
        part = self.mime.get_body(("plain", "html"))
        return str(part.get_content()) if part is not None else ""


@dataclass
class HistoryRecord:
    id: int
    message_id: str
    kind: str  # "messageAdded"


@dataclass
class SentRecord:
    raw: EmailMessage
    thread_id: str | None
    message_id: str

    def header(self, name: str) -> str:
        return str(self.raw.get(name, ""))

    def text(self) -> str:
        part = self.raw.get_body(("plain",))
        return str(part.get_content()) if part is not None else ""

    def html(self) -> str:
        part = self.raw.get_body(("html",))
        return str(part.get_content()) if part is not None else ""


@dataclass
class FakeGmailState:
    email_address: str = "me@example.com"
    client_id: str = "fake-client-id.apps.googleusercontent.com"
    client_secret: str = "fake-client-secret"
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # id -> name
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    refresh_tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> redirect_uri
    history_floor: int = 0  # history ids at or below this are "too old" (404)


class FakeGmail(FakeServer):
    provider = "Gmail"

    def __init__(self) -> None:
        self.state = FakeGmailState(labels={name: name for name in SYSTEM_LABELS})
        self.sent: list[SentRecord] = []
        self.rotate_refresh_tokens = False
        self.deny_consent = False
        self.access_token_lifetime = 3599
        self._ids = itertools.count(0x18C0000000000000 + secrets.randbelow(1 << 32))
        self._history_ids = itertools.count(10_000)
        self._last_history_id = next(self._history_ids)
        super().__init__()

    # Seeding ------------------------------------------------------------------------------------
    def grant(self, *, access_token: str | None = None, refresh_token: str | None = None) -> dict[str, Any]:
        """Credentials as Autofy stores them after a successful OAuth connection."""
        access = access_token or f"ya29.{secrets.token_urlsafe(24)}"
        refresh = refresh_token or f"1//{secrets.token_urlsafe(24)}"
        self.state.access_tokens[access] = time.time() + self.access_token_lifetime
        self.state.refresh_tokens.add(refresh)
        return {
            "client_id": self.state.client_id,
            "client_secret": self.state.client_secret,
            "refresh_token": refresh,
            "access_token": access,
            "expires_at": int(time.time()) + self.access_token_lifetime,
        }

    def issue_code(self, redirect_uri: str) -> str:
        code = f"4/{secrets.token_urlsafe(16)}"
        self.state.codes[code] = redirect_uri
        return code

    def expire_access_tokens(self) -> None:
        self.state.access_tokens.clear()

    def revoke(self) -> None:
        self.state.refresh_tokens.clear()
        self.state.access_tokens.clear()

    def add_label(self, name: str) -> str:
        label_id = f"Label_{len(self.state.labels) + 1}"
        self.state.labels[label_id] = name
        return label_id

    def add_message(
        self,
        *,
        sender: str = "Ada Lovelace <ada@example.com>",
        to: str | None = None,
        subject: str = "Hello",
        body_text: str = "Hi there",
        body_html: str | None = None,
        labels: tuple[str, ...] = ("INBOX", "UNREAD"),
        thread_id: str | None = None,
        attachments: tuple[str, ...] = (),
        received_at: float | None = None,
        message_id_header: str | None = None,
    ) -> str:
        mime = EmailMessage()
        mime["From"] = sender
        mime["To"] = to or self.state.email_address
        mime["Subject"] = subject
        mime["Date"] = email.utils.format_datetime(datetime.now(UTC))
        mime["Message-ID"] = message_id_header or email.utils.make_msgid(domain="mail.example.com")
        mime.set_content(body_text)
        if body_html is not None:
            mime.add_alternative(body_html, subtype="html")
        for name in attachments:
            mime.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=name)
        received = received_at if received_at is not None else time.time()
        return self._store(mime, list(labels), thread_id, int(received * 1000))

    def _store(
        self, mime: EmailMessage, labels: list[str], thread_id: str | None, internal_date_ms: int
    ) -> str:
        message_id = f"{next(self._ids):x}"
        history_id = self._next_history_id()
        snippet = " ".join(_text_of(mime).split())[:100]
        self.state.messages[message_id] = StoredMessage(
            message_id, thread_id or message_id, labels, history_id, internal_date_ms, mime, snippet
        )
        self.state.history.append(HistoryRecord(history_id, message_id, "messageAdded"))
        return message_id

    def _next_history_id(self) -> int:
        self._last_history_id = next(self._history_ids)
        return self._last_history_id

    def forget_history_before(self, history_id: int) -> None:
        """Make older history ids invalid, as Gmail does after about a week."""
        self.state.history_floor = history_id

    # Errors -------------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        reason = _REASONS.get(status, "backendError")
        return {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": _STATUS_NAMES.get(status, "UNKNOWN"),
            }
        }

    def _error(self, status: int, message: str) -> JSONResponse:
        return JSONResponse(self.error_body(status, message), status)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        expiry = self.state.access_tokens.get(token)
        return header.startswith("Bearer ") and expiry is not None and expiry > time.time()

    # Routes -------------------------------------------------------------------------------------
    def routes(self) -> list[Any]:
        base = "/gmail/v1/users/{user_id}"
        return [
            Route("/token", self._token, methods=["POST"]),
            Route("/o/oauth2/v2/auth", self._consent, methods=["GET"]),
            Route(base + "/profile", self._guard(self._profile), methods=["GET"]),
            Route(base + "/labels", self._guard(self._labels), methods=["GET"]),
            Route(base + "/messages", self._guard(self._list), methods=["GET"]),
            Route(base + "/messages/send", self._guard(self._send), methods=["POST"]),
            Route(base + "/messages/{message_id}", self._guard(self._get), methods=["GET"]),
            Route(base + "/messages/{message_id}/modify", self._guard(self._modify), methods=["POST"]),
            Route(base + "/history", self._guard(self._history), methods=["GET"]),
        ]

    def _guard(self, handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            if not self._authorized(request):
                return self._error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                    "login cookie or other valid authentication credential.",
                )
            if request.path_params["user_id"] not in ("me", self.state.email_address):
                return self._error(403, "Delegation denied for " + self.state.email_address)
            response: Response = await handler(request)
            return response

        return guarded

    async def _consent(self, request: Request) -> Response:
        """Google's consent screen, where the user always grants access (or, with `deny_consent`,
        refuses): the browser goes back to the redirect URI with a code, or with an error."""
        redirect_uri = request.query_params.get("redirect_uri", "")
        state = request.query_params.get("state", "")
        if request.query_params.get("client_id") != self.state.client_id:
            return self._error(401, "The OAuth client was not found.")
        answer = {"error": "access_denied"} if self.deny_consent else {"code": self.issue_code(redirect_uri)}
        return RedirectResponse(f"{redirect_uri}?{urlencode({**answer, 'state': state})}", status_code=302)

    async def _token(self, request: Request) -> Response:
        # The token endpoint takes application/x-www-form-urlencoded, as Google's does.
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if (
            form.get("client_id") != self.state.client_id
            or form.get("client_secret") != self.state.client_secret
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."}, 401
            )
        grant_type = form.get("grant_type")
        refresh_token: str | None = None
        if grant_type == "authorization_code":
            redirect_uri = self.state.codes.pop(str(form.get("code")), None)
            if redirect_uri is None:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "Malformed auth code."}, 400
                )
            if redirect_uri != form.get("redirect_uri"):
                return JSONResponse(
                    {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}, 400
                )
            refresh_token = f"1//{secrets.token_urlsafe(24)}"
            self.state.refresh_tokens.add(refresh_token)
        elif grant_type == "refresh_token":
            presented = str(form.get("refresh_token"))
            if presented not in self.state.refresh_tokens:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400
                )
            if self.rotate_refresh_tokens:
                self.state.refresh_tokens.discard(presented)
                refresh_token = f"1//{secrets.token_urlsafe(24)}"
                self.state.refresh_tokens.add(refresh_token)
        else:
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400
            )
        access_token = f"ya29.{secrets.token_urlsafe(24)}"
        self.state.access_tokens[access_token] = time.time() + self.access_token_lifetime
        body: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": self.access_token_lifetime,
            "scope": "https://www.googleapis.com/auth/gmail.modify",
            "token_type": "Bearer",
        }
        if refresh_token:
            body["refresh_token"] = refresh_token
        return JSONResponse(body)

    async def _profile(self, request: Request) -> Response:
        return JSONResponse(
            {
                "emailAddress": self.state.email_address,
                "messagesTotal": len(self.state.messages),
                "threadsTotal": len({m.thread_id for m in self.state.messages.values()}),
                "historyId": str(self._last_history_id),
            }
        )

    async def _labels(self, request: Request) -> Response:
        labels = [
            {"id": label_id, "name": name, "type": "system" if label_id == name else "user"}
            for label_id, name in self.state.labels.items()
        ]
        return JSONResponse({"labels": labels})

    async def _list(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        max_results = min(int(request.query_params.get("maxResults", "100")), 500)
        offset = int(request.query_params.get("pageToken", "0"))
        matching = sorted(
            (m for m in self.state.messages.values() if _matches(m, query, self.state.labels)),
            key=lambda m: (m.internal_date_ms, m.history_id),
            reverse=True,  # Gmail lists newest first
        )
        page = matching[offset : offset + max_results]
        body: dict[str, Any] = {"resultSizeEstimate": len(matching)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + max_results < len(matching):
            body["nextPageToken"] = str(offset + max_results)
        return JSONResponse(body)

    async def _get(self, request: Request) -> Response:
        message = self.state.messages.get(request.path_params["message_id"])
        if message is None:
            return self._error(404, "Requested entity was not found.")
        return JSONResponse(_resource(message))

    async def _modify(self, request: Request) -> Response:
        message = self.state.messages.get(request.path_params["message_id"])
        if message is None:
            return self._error(404, "Requested entity was not found.")
        body = await request.json()
        for label_id in body.get("addLabelIds", []) + body.get("removeLabelIds", []):
            if label_id not in self.state.labels:
                return self._error(400, f"Invalid label: {label_id}")
        message.label_ids = [
            label for label in message.label_ids if label not in body.get("removeLabelIds", [])
        ] + [label for label in body.get("addLabelIds", []) if label not in message.label_ids]
        message.history_id = self._next_history_id()
        return JSONResponse({"id": message.id, "threadId": message.thread_id, "labelIds": message.label_ids})

    async def _send(self, request: Request) -> Response:
        body = await request.json()
        raw = body.get("raw")
        if not isinstance(raw, str):
            return self._error(
                400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
            )
        parsed = email.message_from_bytes(
            base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        if not parsed.get("To") and not parsed.get("Cc") and not parsed.get("Bcc"):
            return self._error(400, "Invalid To header")
        thread_id = body.get("threadId")
        if thread_id is not None and not any(m.thread_id == thread_id for m in self.state.messages.values()):
            return self._error(404, "Requested entity was not found.")
        stored_copy = email.message_from_bytes(parsed.as_bytes(), policy=email.policy.default)
        assert isinstance(stored_copy, EmailMessage)
        del stored_copy["Bcc"]  # Gmail strips Bcc from the stored copy
        message_id = self._store(stored_copy, ["SENT"], thread_id, int(time.time() * 1000))
        self.sent.append(SentRecord(parsed, thread_id, message_id))
        return JSONResponse(
            {"id": message_id, "threadId": self.state.messages[message_id].thread_id, "labelIds": ["SENT"]}
        )

    async def _history(self, request: Request) -> Response:
        start = request.query_params.get("startHistoryId")
        if start is None or not start.isdigit():
            return self._error(400, "Invalid startHistoryId")
        if int(start) < self.state.history_floor:
            return self._error(404, "Requested entity was not found.")
        label_id = request.query_params.get("labelId")
        max_results = min(int(request.query_params.get("maxResults", "100")), 500)
        offset = int(request.query_params.get("pageToken", "0"))
        records = []
        for record in self.state.history:
            message = self.state.messages.get(record.message_id)
            if record.id <= int(start) or message is None:
                continue
            if label_id and label_id not in message.label_ids:
                continue
            ref = {"id": message.id, "threadId": message.thread_id}
            records.append(
                {
                    "id": str(record.id),
                    "messages": [ref],
                    "messagesAdded": [{"message": {**ref, "labelIds": message.label_ids}}],
                }
            )
        page = records[offset : offset + max_results]
        body: dict[str, Any] = {"historyId": str(self._last_history_id)}
        if page:
            body["history"] = page
        if offset + max_results < len(records):
            body["nextPageToken"] = str(offset + max_results)
        return JSONResponse(body)


def _text_of(mime: EmailMessage) -> str:
    part = mime.get_body(("plain", "html"))
    return str(part.get_content()) if part is not None else ""


def _resource(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": message.label_ids,
        "snippet": message.snippet,
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date_ms),
        "sizeEstimate": len(message.mime.as_bytes()),
        "payload": _part(message.mime, "", top=True),
    }


def _part(part: EmailMessage, part_id: str, *, top: bool = False) -> dict[str, Any]:
    headers = [{"name": name, "value": str(value)} for name, value in part.items()]
    filename = part.get_filename() or ""
    resource: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": filename,
        "headers": headers,
    }
    if part.is_multipart():
        children = [p for p in part.iter_parts() if isinstance(p, EmailMessage)]
        resource["body"] = {"size": 0}
        resource["parts"] = [
            _part(child, f"{part_id}.{index}" if part_id else str(index))
            for index, child in enumerate(children)
        ]
    else:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename:
            resource["body"] = {"attachmentId": f"ANGjdJ{secrets.token_hex(8)}", "size": len(data)}
        else:
            resource["body"] = {
                "size": len(data),
                "data": base64.urlsafe_b64encode(data).decode().rstrip("="),
            }
    return resource


def _matches(message: StoredMessage, query: str, labels: dict[str, str]) -> bool:
    """A subset of Gmail's search syntax: from:, to:, subject:, label:, in:, is:, after:, before:,
    has:attachment, and bare words (searched in sender, subject and body); all terms must match."""
    try:
        terms = shlex.split(query.replace("(", " ").replace(")", " "))
    except ValueError:
        terms = query.split()
    return all(_term_matches(message, term, labels) for term in terms)


def _term_matches(message: StoredMessage, term: str, labels: dict[str, str]) -> bool:
    key, has_operator, value = term.partition(":")
    value = value.casefold()
    if not has_operator:
        return (
            term.casefold()
            in f"{message.header('From')} {message.header('Subject')} {message.text()}".casefold()
        )
    received = message.internal_date_ms // 1000
    checks = {
        "from": lambda: value in message.header("From").casefold(),
        "to": lambda: value in message.header("To").casefold(),
        "subject": lambda: value in message.header("Subject").casefold(),
        "label": lambda: value in _label_terms(message, labels),
        "in": lambda: value in _label_terms(message, labels),
        "is": lambda: ("UNREAD" in message.label_ids) == (value == "unread"),
        "after": lambda: received > _epoch(value),
        "before": lambda: received < _epoch(value),
        "has": lambda: any(part.get_filename() for part in message.mime.walk()),
    }
    check = checks.get(key)
    return check() if check is not None else True


def _label_terms(message: StoredMessage, labels: dict[str, str]) -> set[str]:
    return {labels.get(label_id, label_id).casefold().replace(" ", "-") for label_id in message.label_ids}


def _epoch(value: str) -> int:
    if re.fullmatch(r"\d+", value):
        return int(value)
    return int(datetime.strptime(value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=UTC).timestamp())
