"""The public status page: each monitored service's state and its last 24 hours, signed out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from autofy.auth.dependencies import AppSettings
from autofy.connectors.catalog import UnknownService, catalog
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.status import service as status_service
from autofy.web.dependencies import SignInRequired, get_page_principal, get_signed_in
from autofy.web.rendering import Viewer, render

router = APIRouter()

INFRASTRUCTURE_NAMES = {
    "database": "Database",
    "queue": "Job queue",
    "workers": "Workers",
    "scheduler": "Scheduler",
}


async def _anonymous_session(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    # As `anon`: the database lets it read a health check's service, state and time, nothing else.
    async with database.anon_session() as session:
        yield session


AnonymousSession = Annotated[AsyncSession, Depends(_anonymous_session, scope="function")]


async def _viewer_if_signed_in(request: Request, settings: AppSettings, database: Database) -> Viewer | None:
    """The layout's viewer for a signed-in visitor (their nav and bell); None for anyone else."""
    try:
        principal = await get_page_principal(request, settings, database)
    except SignInRequired:
        return None
    async with database.user_session(principal.claims) as session:
        return (await get_signed_in(principal, session)).viewer


def display_name(service_name: str) -> str:
    if service_name in INFRASTRUCTURE_NAMES:
        return INFRASTRUCTURE_NAMES[service_name]
    try:
        return catalog().connector(service_name).display_name
    except UnknownService:
        return service_name


@router.get("/status")
async def status_page(
    request: Request,
    session: AnonymousSession,
    settings: AppSettings,
    database: Annotated[Database, Depends(get_database)],
) -> Response:
    timeline = await status_service.status_timeline(session)
    context = {"timeline": timeline, "display_name": display_name}
    viewer = await _viewer_if_signed_in(request, settings, database)
    return render(request, "status/index.html", context, viewer=viewer)
