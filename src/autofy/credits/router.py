"""The caller's credits for the current period."""

from __future__ import annotations

from fastapi import APIRouter

from autofy.auth.dependencies import ReadPrincipal, UserSession
from autofy.credits import service
from autofy.credits.schemas import CreditUsage

router = APIRouter(prefix="/api/v1", tags=["profile"])


@router.get("/usage", response_model=CreditUsage, summary="Your credits this period")
async def get_usage(principal: ReadPrincipal, session: UserSession) -> CreditUsage:
    """The plan's allowance, what this period used and holds for runs and messages in progress,
    what remains, and when the period ends (credits reset at 00:00 UTC on the 1st of each month)."""
    return await service.own_usage(session, principal.user_id)
