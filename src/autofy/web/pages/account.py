"""Sign up, sign in and sign out: the browser session (see web/security.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from autofy.auth import service as auth_service
from autofy.auth.dependencies import AppSettings, RequestMeta, ServiceSession
from autofy.auth.schemas import SignInRequest, SignUpRequest
from autofy.config import Settings
from autofy.errors import DomainError, RateLimitedError
from autofy.web.dependencies import PagePrincipal
from autofy.web.rendering import render
from autofy.web.security import BrowserSession, clear_session_cookie, rotate_csrf_seed, set_session_cookie

router = APIRouter()

Text = Annotated[str, Form()]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//evil.example`)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


_EMAIL_MESSAGE = {"email": "Enter an email address like name@example.com."}


def field_errors(error: ValidationError, messages: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each invalid field's message: `messages` puts one in plainer words, else the validator's own."""
    return {
        str(problem["loc"][0]): (messages or {}).get(
            str(problem["loc"][0]), problem["msg"].removeprefix("Value error, ")
        )
        for problem in error.errors()
        if problem["loc"]
    }


def domain_errors(error: DomainError) -> tuple[dict[str, str], str | None]:
    """Field messages from the error's details; its message when no field is named."""
    fields: dict[str, str] = {}
    for detail in error.details:
        if detail.get("field"):
            # A weak password can break several rules at once: show them all.
            fields[detail["field"]] = " ".join(filter(None, (fields.get(detail["field"]), detail["message"])))
    return fields, None if fields else error.message


def _signed_in(request: Request, settings: AppSettings, browser: BrowserSession, target: str) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(response, settings, browser)
    rotate_csrf_seed(request, response, settings)
    return response


def _form(
    request: Request,
    template: str,
    *,
    values: dict[str, Any],
    field_errors: dict[str, str] | None = None,
    message: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    settings: Settings = request.app.state.settings
    context = {
        "values": values,
        "errors": field_errors or {},
        "message": message,
        "notice": notice,
        "password_min_length": settings.password_min_length,
    }
    return render(request, template, context, status_code=status_code)


# Why the browser was sent to the sign-in page, when it was not to sign in for the first time.
_SIGNED_OUT = {
    "everywhere": "You are signed out on every browser and device. Sign in again to continue here."
}


@router.get("/signin")
async def sign_in_page(request: Request, next: str = "/", signed_out: str = "") -> Response:
    return _form(
        request,
        "account/signin.html",
        values={"email": "", "next": safe_next(next)},
        notice=_SIGNED_OUT.get(signed_out),
    )


@router.post("/signin")
async def sign_in(
    request: Request,
    session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
    email: Text = "",
    password: Text = "",
    next: Text = "/",
) -> Response:
    values = {"email": email, "next": safe_next(next)}
    try:
        credentials = SignInRequest(email=email, password=password)
    except ValidationError as error:
        return _form(
            request,
            "account/signin.html",
            values=values,
            field_errors=field_errors(error, _EMAIL_MESSAGE),
            status_code=422,
        )
    try:
        user, session_id = await auth_service.open_session(session, credentials, settings=settings, meta=meta)
    except RateLimitedError as error:
        return _form(request, "account/signin.html", values=values, message=error.message, status_code=429)
    except auth_service.InvalidCredentialsError as error:
        # Returned, not raised: the failure's audit row must be committed (it feeds the rate limit).
        return _form(request, "account/signin.html", values=values, message=error.message, status_code=401)
    return _signed_in(request, settings, BrowserSession(user.id, session_id), next)


@router.get("/signup")
async def sign_up_page(request: Request) -> Response:
    return _form(request, "account/signup.html", values={"email": "", "full_name": ""})


@router.post("/signup")
async def sign_up(
    request: Request,
    session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
    email: Text = "",
    password: Text = "",
    full_name: Text = "",
) -> Response:
    values = {"email": email, "full_name": full_name}
    try:
        account = SignUpRequest(email=email, password=password, full_name=full_name.strip() or None)
    except ValidationError as error:
        return _form(
            request,
            "account/signup.html",
            values=values,
            field_errors=field_errors(error, _EMAIL_MESSAGE),
            status_code=422,
        )
    try:
        user, session_id = await auth_service.open_session_for_new_account(
            session, account, settings=settings, meta=meta
        )
    except DomainError as error:  # a weak password, an email already registered
        problems, message = domain_errors(error)
        return _form(
            request,
            "account/signup.html",
            values=values,
            field_errors=problems,
            message=message,
            status_code=error.status_code,
        )
    return _signed_in(request, settings, BrowserSession(user.id, session_id), "/")


@router.post("/signout")
async def sign_out(
    request: Request,
    principal: PagePrincipal,
    session: ServiceSession,
    settings: AppSettings,
    meta: RequestMeta,
) -> Response:
    # Service role: sessions are not writable by users. Deleting the row kills the cookie everywhere.
    await auth_service.sign_out(session, principal, meta=meta)
    response = RedirectResponse("/signin", status_code=303)
    clear_session_cookie(response, settings)
    rotate_csrf_seed(request, response, settings)
    return response
