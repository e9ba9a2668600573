"""The browser session cookie, CSRF protection and the security headers of the web app.

- The session cookie names an `auth.sessions` row (`<user id>.<session id>.<signature>`): signing
  out deletes the row, so a copied cookie dies with it. It carries no refresh token, so parallel
  htmx requests never race a token rotation.
- CSRF: a random seed in its own HttpOnly cookie; forms send `csrf_token` (hidden field) and htmx
  sends `X-CSRF-Token` (from `hx-headers` on <body>), both HMAC(secret, seed). On top of that, a
  state-changing request must come from our own origin (Origin, else Referer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autofy.auth.dependencies import AppSettings
from autofy.config import Settings
from autofy.errors import ForbiddenError

SESSION_COOKIE = "autofy_session"
CSRF_COOKIE = "autofy_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _secret(settings: Settings) -> bytes:
    assert settings.jwt_secret is not None, "create_app requires settings with secrets"
    return settings.jwt_secret.get_secret_value().encode()


def _sign(settings: Settings, purpose: str, value: str) -> str:
    digest = hmac.new(_secret(settings), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _cookie_is_secure(settings: Settings) -> bool:
    return settings.external_url.startswith("https://")


# --- the session cookie ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserSession:
    user_id: uuid.UUID
    session_id: uuid.UUID


def set_session_cookie(response: Response, settings: Settings, session: BrowserSession) -> None:
    value = f"{session.user_id}.{session.session_id}"
    response.set_cookie(
        SESSION_COOKIE,
        f"{value}.{_sign(settings, 'session', value)}",
        max_age=settings.refresh_token_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=_cookie_is_secure(settings),
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_cookie_is_secure(settings), path="/"
    )


def read_session_cookie(request: Request, settings: Settings) -> BrowserSession | None:
    """The session the cookie names, when its signature is ours; None when absent or forged."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    value, _, signature = cookie.rpartition(".")
    if not value or not hmac.compare_digest(signature, _sign(settings, "session", value)):
        return None
    user_id, _, session_id = value.partition(".")
    try:
        return BrowserSession(uuid.UUID(user_id), uuid.UUID(session_id))
    except ValueError:
        return None


# --- CSRF -----------------------------------------------------------------------------------------


def csrf_token(request: Request, settings: Settings) -> str:
    """The token forms and htmx send back; `remember_csrf_seed` stores a new seed on the response."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_seed", None)
    if seed is None:
        seed = request.state.new_csrf_seed = secrets.token_urlsafe(32)
    return _sign(settings, "csrf", seed)


def remember_csrf_seed(request: Request, response: Response, settings: Settings) -> None:
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed is not None:
        response.set_cookie(
            CSRF_COOKIE, seed, httponly=True, samesite="lax", secure=_cookie_is_secure(settings), path="/"
        )


def rotate_csrf_seed(request: Request, response: Response, settings: Settings) -> None:
    """A new seed at sign-in and sign-out, so a token seen before cannot be replayed after."""
    request.state.new_csrf_seed = secrets.token_urlsafe(32)
    remember_csrf_seed(request, response, settings)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _trusted_origins(request: Request, settings: Settings) -> set[str]:
    return {_origin(settings.external_url), _origin(str(request.base_url))}


async def check_csrf(request: Request, settings: AppSettings) -> None:
    """Refuse a state-changing request that is cross-site or lacks a valid CSRF token."""
    if request.method in _SAFE_METHODS:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None or _origin(source) not in _trusted_origins(request, settings):
        raise ForbiddenError("This form was sent from another site; open the page on Autofy and try again.")
    seed = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if seed is None or sent is None or not hmac.compare_digest(sent, _sign(settings, "csrf", seed)):
        raise ForbiddenError("The form has expired; reload the page and try again.")


CsrfChecked = Annotated[None, Depends(check_csrf)]


# --- headers --------------------------------------------------------------------------------------

# Scripts and styles only from our own files: no inline script, no inline event handler.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Swagger UI and ReDoc set inline styles, and ReDoc runs a web worker from a blob.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """CSP, no framing, no MIME sniffing and a strict referrer policy on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else APP_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
