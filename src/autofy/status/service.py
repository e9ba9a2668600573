"""The status pages: the latest state of each monitored service and a short history (signed in),
and the public timeline of the last 24 hours in segments (signed out, states only)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.status import repository
from autofy.status.schemas import (
    SegmentState,
    ServiceState,
    ServiceStatus,
    ServiceTimeline,
    StatusCheck,
    StatusTimeline,
    SystemStatus,
    TimelineSegment,
)

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


SEGMENT = timedelta(minutes=15)
SEGMENTS = 96  # 24 hours
# The platform's own parts first, in the order a request meets them; then the connectors' services.
INFRASTRUCTURE = ("database", "queue", "workers", "scheduler")
# Index: the `worst` value the repository computes.
_SEGMENT_STATES: tuple[SegmentState, ...] = ("none", "healthy", "degraded", "down")


def _window_end(now: datetime) -> datetime:
    """The next segment boundary at or after `now`, so segments sit on the clock's quarter hours."""
    seconds = int(SEGMENT.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(-(-epoch // seconds) * seconds, tz=UTC)


def _display_order(service_name: str) -> tuple[int, str]:
    if service_name in INFRASTRUCTURE:
        return INFRASTRUCTURE.index(service_name), ""
    return len(INFRASTRUCTURE), service_name


async def status_timeline(session: AsyncSession, *, now: datetime | None = None) -> StatusTimeline:
    """Every monitored service's current state and its last 24 hours, worst state per segment.

    Reads only what `anon` may (service, state, time), so it runs signed out. A service only the
    seed's "not checked yet" row knows stays `unknown`, and segments nobody checked say `none`.
    """
    moment = now or datetime.now(UTC)
    end = _window_end(moment)
    worst: defaultdict[str, dict[int, SegmentState]] = defaultdict(dict)
    checks: Counter[str] = Counter()
    healthy: Counter[str] = Counter()
    rows = await repository.segment_states(
        session, now=end, segment_seconds=int(SEGMENT.total_seconds()), segments=SEGMENTS
    )
    for row in rows:
        name = str(row.service_name)
        worst[name][int(row.segments_ago)] = _SEGMENT_STATES[int(row.worst)]
        checks[name] += int(row.checks)
        healthy[name] += int(row.healthy)
    services = []
    for latest in sorted(
        await repository.latest_states(session), key=lambda r: _display_order(str(r.service_name))
    ):
        name = str(latest.service_name)
        checked = latest.status != "unknown"
        services.append(
            ServiceTimeline(
                service_name=name,
                status=latest.status,
                checked_at=latest.checked_at if checked else None,
                healthy_share=healthy[name] / checks[name] if checks[name] else None,
                segments=[
                    TimelineSegment(
                        start=end - SEGMENT * (ago + 1),
                        end=end - SEGMENT * ago,
                        state=worst[name].get(ago, "none"),
                    )
                    for ago in reversed(range(SEGMENTS))
                ],
            )
        )
    # The headline speaks for the services that were checked; none checked yet is `unknown`.
    checked_states = [s.status for s in services if s.status != "unknown"]
    overall = max(checked_states, key=_SEVERITY.__getitem__, default="unknown")
    return StatusTimeline(
        status=overall,
        generated_at=moment,
        segment_minutes=int(SEGMENT.total_seconds() // 60),
        services=services,
    )
