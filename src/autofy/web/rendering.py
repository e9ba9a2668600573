"""Jinja2 (autoescaped) for the pages: `render` fills in what the layout needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from autofy import __version__
from autofy.config import Settings
from autofy.web.assets import static_url
from autofy.web.markdown import render_markdown
from autofy.web.security import CSRF_FIELD, csrf_token, remember_csrf_seed

Theme = Literal["light", "dark", "system"]
THEMES: tuple[Theme, ...] = ("light", "dark", "system")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as the layout shows them."""

    email: str | None
    full_name: str | None
    theme: Theme
    unread_notifications: int = 0  # the bell's count

    @property
    def display_name(self) -> str:
        return self.full_name or self.email or "You"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%b %-d, %H:%M UTC") if moment is not None else "—"


environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.do"],
)
environment.globals.update(static_url=static_url, version=__version__, csrf_field_name=CSRF_FIELD)
environment.filters["when"] = _when
environment.filters["markdown"] = render_markdown


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    viewer: Viewer | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page `template`, with the viewer (None on signed-out pages), the CSRF token and the
    current path for the navigation."""
    settings: Settings = request.app.state.settings
    html = environment.get_template(template).render(
        {
            "viewer": viewer,
            "theme": viewer.theme if viewer is not None else "system",
            "csrf_token": csrf_token(request, settings),
            "path": request.url.path,
            **(context or {}),
        }
    )
    response = HTMLResponse(html, status_code=status_code)
    remember_csrf_seed(request, response, settings)
    return response
