"""The web app: server-rendered pages at `/`, next to the API at `/api/v1` (ARCHITECTURE.md §8)."""

from __future__ import annotations

from fastapi import FastAPI

from autofy.config import Settings
from autofy.web import errors
from autofy.web.assets import StaticAssets
from autofy.web.pages import ROUTER
from autofy.web.security import SecurityHeadersMiddleware

__all__ = ["mount_web"]


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Serve the pages, their static files, /docs and /redoc, with HTML errors on web paths."""
    app.include_router(ROUTER)
    app.mount("/static", StaticAssets(), name="static")
    errors.install_html_errors(app)
    app.add_middleware(SecurityHeadersMiddleware)
