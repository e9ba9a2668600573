"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from autofy import __version__
from autofy.config import Settings
from autofy.db.engine import Database
from autofy.status.router import router as status_router


def create_app(settings: Settings, database_url: str) -> FastAPI:
    """An Autofy API on `database_url`; `settings` must already carry its secrets."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url, pool_size=settings.db_pool_size)
        app.state.database = database
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Autofy",
        version=__version__,
        description="Self-hostable workflow automation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(status_router)
    return app
