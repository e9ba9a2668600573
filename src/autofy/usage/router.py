"""Your usage: plan, credits, runs per day and the busiest workflows."""

from __future__ import annotations

from fastapi import APIRouter

from autofy.auth.dependencies import ReadPrincipal, UserSession
from autofy.usage import service
from autofy.usage.schemas import UsageOverview

router = APIRouter(prefix="/api/v1", tags=["usage"])


@router.get(
    "/usage",
    response_model=UsageOverview,
    summary="Your plan, credits, runs per day and busiest workflows (last 30 days)",
    description="Days are counted in your profile's time zone, today included, oldest first.",
)
async def get_usage(principal: ReadPrincipal, session: UserSession) -> UsageOverview:
    return await service.overview(session, principal)
