"""Account settings: profile, theme, AI defaults, notifications, password, sign out everywhere.

Every form posts to its own address and, once saved, comes back to /account?saved=<form> (so a
reload never posts twice); a form with a problem is shown again with the problem on its field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from autofy.assistant.providers import PREFERRED_MODEL_KEY, PREFERRED_PROVIDER_KEY
from autofy.auth import service as auth_service
from autofy.auth.dependencies import AppSettings, RequestMeta, ServiceSession
from autofy.auth.schemas import PasswordChange
from autofy.connectors.llm import PROVIDERS
from autofy.dependencies import get_database
from autofy.errors import DomainError, NotFoundError
from autofy.profiles import service as profiles_service
from autofy.profiles.schemas import NotificationSettings, ProfileUpdate, iana_timezones
from autofy.web.dependencies import PageSession, SignedIn, SignedInPage
from autofy.web.pages.account import domain_errors, field_errors
from autofy.web.rendering import THEMES, render
from autofy.web.security import APP_CSP, clear_session_cookie, rotate_csrf_seed

router = APIRouter()

Text = Annotated[str, Form()]
Section = Literal["profile", "theme", "ai", "notifications", "password"]

_SAVED: dict[str, str] = {
    "profile": "Your profile is saved.",
    "theme": "Your theme is saved.",
    "ai": "Your AI defaults are saved.",
    "notifications": "Your notification settings are saved.",
    "password": "Your password is changed. Your other sessions were signed out.",
}
_AVATAR_MESSAGE = (
    "Enter an image address that starts with https:// (or http://), like https://example.com/me.png."
)
# What a CSP source may hold: a host name or an IPv6 literal, and a port. Anything else is not shown.
_SAFE_HOST = re.compile(r"^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])$")

# Events the notifications preference knows, each with its `<channel>_on_<event>` keys.
NOTIFICATION_EVENTS: tuple[tuple[str, str], ...] = (
    ("failure", "A run fails"),
    ("integration_error", "An integration stops working"),
    ("credits_low", "Credits are nearly used up"),
)
NOTIFICATION_CHANNELS: tuple[tuple[str, str], ...] = (("in_app", "In the app"), ("email", "By email"))


@dataclass(frozen=True)
class Avatar:
    url: str
    origin: str


def safe_avatar(url: str | None) -> Avatar | None:
    """The avatar to show as an <img>: an http(s) address with a plain host, else nothing.

    The API validates avatar URLs when they are saved; checked again here because it is rendered."""
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not _SAFE_HOST.match(host):
        return None
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    return Avatar(url=url, origin=f"{parts.scheme}://{host}" + (f":{port}" if port else ""))


def _with_avatar_allowed(response: Response, avatar: Avatar | None) -> Response:
    """The page's CSP lets images load from the avatar's origin, and from no other."""
    if avatar is not None:
        response.headers["Content-Security-Policy"] = APP_CSP.replace(
            "img-src 'self' data:", f"img-src 'self' data: {avatar.origin}"
        )
    return response


class AiDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    model: str = Field(default="", max_length=200)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError("Choose one of the listed AI services.")
        return provider

    @field_validator("model")
    @classmethod
    def _strip(cls, model: str) -> str:
        return model.strip()


async def _preference(session: AsyncSession, key: str, default: Any) -> Any:
    try:
        return (await profiles_service.get_preference(session, key)).value
    except NotFoundError:
        return default


async def _account_page(
    request: Request,
    page: SignedIn,
    session: AsyncSession,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    saved: str | None = None,
    status_code: int = 200,
) -> Response:
    profile = await profiles_service.get_profile(session, page.principal)
    avatar = safe_avatar(profile.avatar_url)
    # Service role: auth.sessions is readable by the service role only; the query names the caller.
    async with get_database(request).service_session() as service_session:
        sign_ins = await auth_service.list_sessions(service_session, page.principal)
    settings = request.app.state.settings
    stored = {
        "full_name": profile.full_name or "",
        "avatar_url": profile.avatar_url or "",
        "timezone": profile.timezone or "UTC",
        "ai_provider": await _preference(session, PREFERRED_PROVIDER_KEY, "openai"),
        "ai_model": await _preference(session, PREFERRED_MODEL_KEY, ""),
    }
    context = {
        "profile": profile,
        "avatar": avatar,
        "values": stored | (values or {}),
        "errors": errors or {},
        "message": message,
        "saved": _SAVED.get(saved or ""),
        "themes": THEMES,
        "timezones": sorted(iana_timezones()),
        "providers": list(PROVIDERS.values()),
        "notifications": await profiles_service.notification_settings(session),
        "notification_events": NOTIFICATION_EVENTS,
        "notification_channels": NOTIFICATION_CHANNELS,
        "password_min_length": settings.password_min_length,
        "sessions": sign_ins,
    }
    response = render(request, "account/settings.html", context, viewer=page.viewer, status_code=status_code)
    return _with_avatar_allowed(response, avatar)


def _saved(section: Section) -> Response:
    return RedirectResponse(f"/account?saved={section}", status_code=303)


@router.get("/account")
async def account(request: Request, page: SignedInPage, session: PageSession, saved: str = "") -> Response:
    return await _account_page(request, page, session, saved=saved)


@router.post("/account/profile")
async def save_profile(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    full_name: Text = "",
    avatar_url: Text = "",
    timezone: Text = "UTC",
) -> Response:
    values = {"full_name": full_name, "avatar_url": avatar_url, "timezone": timezone}
    try:
        changes = ProfileUpdate(full_name=full_name, avatar_url=avatar_url.strip() or None, timezone=timezone)
    except ValidationError as error:
        problems = field_errors(error, {"avatar_url": _AVATAR_MESSAGE})
        return await _account_page(request, page, session, values=values, errors=problems, status_code=422)
    await profiles_service.update_profile(session, page.principal, changes, meta=meta)
    return _saved("profile")


@router.post("/account/theme")
async def save_theme(
    request: Request, page: SignedInPage, session: PageSession, meta: RequestMeta, theme: Text = ""
) -> Response:
    if theme not in THEMES:
        return await _account_page(
            request, page, session, errors={"theme": "Choose light, dark or system."}, status_code=422
        )
    await profiles_service.set_preference(session, page.principal, "theme", theme, meta=meta)
    if request.headers.get("hx-request"):
        # The page already shows the theme (account.js applies it on change): say it is saved.
        return render(request, "account/_theme_saved.html", {"theme": theme})
    return _saved("theme")


@router.post("/account/ai")
async def save_ai_defaults(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    meta: RequestMeta,
    ai_provider: Text = "",
    ai_model: Text = "",
) -> Response:
    try:
        defaults = AiDefaults(provider=ai_provider, model=ai_model)
    except ValidationError as error:
        problems = {f"ai_{name}": problem for name, problem in field_errors(error).items()}
        values = {"ai_provider": ai_provider, "ai_model": ai_model}
        return await _account_page(request, page, session, values=values, errors=problems, status_code=422)
    await profiles_service.set_preference(
        session, page.principal, PREFERRED_PROVIDER_KEY, defaults.provider, meta=meta
    )
    # An empty model means the service's default (the assistant reads it so).
    await profiles_service.set_preference(
        session, page.principal, PREFERRED_MODEL_KEY, defaults.model, meta=meta
    )
    return _saved("ai")


@router.post("/account/notifications")
async def save_notifications(
    request: Request, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    form = await request.form()
    # An unticked checkbox is not sent at all: every known key is false unless its box came back.
    chosen = NotificationSettings(**{key: key in form for key in NotificationSettings.model_fields})
    await profiles_service.set_notification_settings(session, page.principal, chosen, meta=meta)
    return _saved("notifications")


@router.post("/account/password")
async def change_password(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    service_session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
    current_password: Text = "",
    new_password: Text = "",
) -> Response:
    try:
        change = PasswordChange(current_password=current_password, new_password=new_password)
    except ValidationError as error:  # a field left empty, or longer than any password
        blank = {
            name: f"Enter {what}."
            for name, what, value in (
                ("current_password", "your current password", current_password),
                ("new_password", "a new password", new_password),
            )
            if not value
        }
        problems = field_errors(error, blank)
        return await _account_page(request, page, session, errors=problems, status_code=422)
    try:
        # Service role: the password lives in auth.users, the sessions in auth.sessions.
        await auth_service.change_password(
            service_session,
            page.principal,
            change,
            settings=settings,
            meta=meta,
        )
    except DomainError as error:  # wrong current password, a weak new one, too many attempts
        problems, message = domain_errors(error)
        return await _account_page(
            request, page, session, errors=problems, message=message, status_code=error.status_code
        )
    return _saved("password")


@router.post("/account/signout-everywhere")
async def sign_out_everywhere(
    request: Request,
    page: SignedInPage,
    service_session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
) -> Response:
    # Service role: sessions are not writable by users. This browser's session ends with the others.
    await auth_service.sign_out_everywhere(service_session, page.principal, meta=meta)
    response = RedirectResponse("/signin?signed_out=everywhere", status_code=303)
    clear_session_cookie(response, settings)
    rotate_csrf_seed(request, response, settings)
    return response
