"""Liveness: is the process up, is its database reachable, which schema version does it run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from autofy import __version__
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.status.schemas import Health

router = APIRouter(tags=["status"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable."}},
)
async def health(database: Annotated[Database, Depends(get_database)]) -> JSONResponse:
    try:
        async with database.engine.connect() as connection:
            schema_version = await connection.scalar(text("select version_num from alembic_version"))
    except (SQLAlchemyError, OSError) as error:
        body = Health(status="down", version=__version__, database="unreachable", error=type(error).__name__)
        return JSONResponse(status_code=503, content=body.model_dump())
    body = Health(status="ok", version=__version__, database="ok", schema_version=schema_version)
    return JSONResponse(status_code=200, content=body.model_dump())
