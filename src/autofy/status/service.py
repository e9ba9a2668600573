"""The status page: the latest state of each monitored service and a short history."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.status import repository
from autofy.status.schemas import ServiceState, ServiceStatus, StatusCheck, SystemStatus

HISTORY_LENGTH = 10
# A service not checked yet is not known to be healthy: it outweighs healthy, not a real problem.
_SEVERITY: dict[ServiceState, int] = {"healthy": 0, "unknown": 1, "degraded": 2, "down": 3}


async def system_status(session: AsyncSession) -> SystemStatus:
    services: dict[str, list[StatusCheck]] = {}
    for row in await repository.recent_checks(session, HISTORY_LENGTH):
        services.setdefault(str(row.service_name), []).append(
            StatusCheck(
                status=row.status,
                response_time=row.response_time,
                error_message=row.error_message,
                checked_at=row.checked_at,
            )
        )
    listed = [
        ServiceStatus(
            service_name=name,
            status=history[0].status,
            response_time=history[0].response_time,
            error_message=history[0].error_message,
            checked_at=history[0].checked_at,
            history=history,
        )
        for name, history in services.items()
    ]
    overall = max((s.status for s in listed), key=_SEVERITY.__getitem__, default="healthy")
    return SystemStatus(status=overall, services=listed)
