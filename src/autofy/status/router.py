"""Liveness, readiness, metrics and the status page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from autofy import __version__
from autofy.auth.dependencies import CurrentPrincipal, UserSession
from autofy.db.engine import Database
from autofy.db.migrate import head_revision
from autofy.dependencies import get_database
from autofy.observability import metrics
from autofy.status import checker, repository, service
from autofy.status.schemas import Health, Readiness, SystemStatus

router = APIRouter(tags=["status"])

_DATABASE_ERRORS = (SQLAlchemyError, OSError)


async def _schema_version(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        version: str | None = await connection.scalar(repository.schema_version_query())
        return version


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable."}},
    summary="Liveness: the process answers and reaches its database",
)
async def health(database: Annotated[Database, Depends(get_database)]) -> JSONResponse:
    try:
        version = await _schema_version(database)
    except _DATABASE_ERRORS as error:
        body = Health(status="down", version=__version__, database="unreachable", error=type(error).__name__)
        return JSONResponse(status_code=503, content=body.model_dump())
    body = Health(status="ok", version=__version__, database="ok", schema_version=version)
    return JSONResponse(status_code=200, content=body.model_dump())


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Database unreachable or schema not current."}},
    summary="Readiness: the database answers and its schema is the one this version needs",
)
async def ready(database: Annotated[Database, Depends(get_database)]) -> JSONResponse:
    expected = head_revision()
    try:
        version = await _schema_version(database)
    except _DATABASE_ERRORS as error:
        body = Readiness(
            ready=False,
            database="unreachable",
            schema_version=None,
            expected_schema_version=expected,
            error=type(error).__name__,
        )
        return JSONResponse(status_code=503, content=body.model_dump())
    is_ready = version == expected
    body = Readiness(
        ready=is_ready,
        database="ok",
        schema_version=version,
        expected_schema_version=expected,
        error=None if is_ready else "the schema is not current: run `autofy db upgrade`",
    )
    return JSONResponse(status_code=200 if is_ready else 503, content=body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(database: Annotated[Database, Depends(get_database)]) -> Response:
    try:
        # the queue belongs to no user: read it as the service
        async with database.service_session() as session:
            queue = await checker.check_queue(session)
        metrics.queue_depth.set(queue.metadata["depth"])
        metrics.queue_lag.set(queue.metadata["oldest_job_age_seconds"] or 0.0)
    except _DATABASE_ERRORS:
        pass  # the scrape still answers; /health tells that the database is away
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/v1/status",
    response_model=SystemStatus,
    summary="Latest health of every monitored service, with a short history",
)
async def system_status(_: CurrentPrincipal, session: UserSession) -> SystemStatus:
    return await service.system_status(session)
