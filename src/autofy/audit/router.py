"""The caller's own audit trail (read only: nobody changes it through the API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from autofy.audit import service
from autofy.audit.schemas import AuditLogPage
from autofy.auth.dependencies import ReadPrincipal, UserSession
from autofy.dependencies import Offset

router = APIRouter(prefix="/api/v1/audit-logs", tags=["audit"])


@router.get("", response_model=AuditLogPage, summary="Your audit log, newest first")
async def list_audit_logs(
    _: ReadPrincipal,
    session: UserSession,
    action: Annotated[str | None, Query(max_length=100, description="e.g. `auth.sign_in`.")] = None,
    resource_type: Annotated[str | None, Query(max_length=100, description="e.g. `workflow`.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Only entries at or after this time.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Only entries before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> AuditLogPage:
    return await service.list_logs(
        session,
        action=action,
        resource_type=resource_type,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
