"""HTML errors for the web app's paths; the API's paths keep their JSON errors.

Wraps the handlers `install_error_handling` registered: a request under an API path goes to the
JSON handler it had, any other gets a page (never a stack trace). A page that needs a signed-in
user redirects to /signin?next=…; an htmx request gets the redirect as `HX-Redirect`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from autofy.errors import DomainError
from autofy.web.dependencies import SignInRequired
from autofy.web.rendering import render

logger = logging.getLogger(__name__)

# Paths whose callers are programs: they keep the API's JSON errors.
_API_PATHS = ("/api/", "/hooks/", "/static/")
_API_EXACT = frozenset({"/health", "/ready", "/metrics", "/openapi.json"})

_TITLES = {
    400: "That request could not be understood",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "That conflicts with what exists",
    413: "That is too large",
    422: "Some values are not valid",
    429: "Too many attempts",
}

_NO_SUCH_PAGE = "There is no page at this address."

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_web_request(request: Request) -> bool:
    """A page's request, or one that matched no route outside the API's paths."""
    endpoint = request.scope.get("endpoint")
    if endpoint is not None:
        return str(getattr(endpoint, "__module__", "")).startswith("autofy.web.")
    path = request.url.path
    return not path.startswith(_API_PATHS) and path not in _API_EXACT


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/signin?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_page(request: Request, status_code: int, message: str) -> Response:
    title = _TITLES.get(status_code, "Something went wrong")
    return render(
        request,
        "errors/error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
    )


def _page_for(error: Exception, request: Request) -> Response:
    if isinstance(error, SignInRequired):
        return sign_in_redirect(request)
    if isinstance(error, DomainError):
        # Another user's id is a "does not exist" for RLS, so it lands here as a 404 too.
        return error_page(request, error.status_code, error.message)
    if isinstance(error, RequestValidationError):
        if any(problem.get("loc", ("",))[0] == "path" for problem in error.errors()):
            # /workflows/not-an-id names nothing: the same page as any other unknown address.
            return error_page(request, 404, _NO_SUCH_PAGE)
        return error_page(request, 400, "The address or the form has a value this page cannot use.")
    if isinstance(error, StarletteHTTPException):
        message = _NO_SUCH_PAGE if error.status_code == 404 else str(error.detail)
        return error_page(request, error.status_code, message)
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_page(request, 500, "Autofy hit an unexpected error; it has been logged. Try again.")


def install_html_errors(app: FastAPI) -> None:
    for exception_class in (DomainError, RequestValidationError, StarletteHTTPException, Exception):
        # install_error_handling registered an async handler for each of these classes.
        api_handler = cast(Handler, app.exception_handlers[exception_class])

        async def handle(request: Request, error: Exception, api_handler: Handler = api_handler) -> Response:
            if not is_web_request(request):
                return await api_handler(request, error)
            return _page_for(error, request)

        app.add_exception_handler(exception_class, handle)
