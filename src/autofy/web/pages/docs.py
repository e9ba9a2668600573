"""/docs (Swagger UI) and /redoc, from files in the package: they work without internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.web.rendering import render

router = APIRouter()


@router.get("/docs")
async def swagger_ui(request: Request) -> Response:
    return render(request, "docs/swagger.html", {"openapi_url": request.app.openapi_url})


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    return render(request, "docs/redoc.html", {"openapi_url": request.app.openapi_url})
