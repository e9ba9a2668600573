"""SQL for the status pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

# The newest `history` checks per service, in one pass over the (service_name, checked_at desc)
# index.
_RECENT_CHECKS = text(
    """
    select service_name, status, response_time, error_message, checked_at
    from (
        select s.*, row_number() over (partition by service_name order by checked_at desc) as rank
        from public.system_status s
    ) ranked
    where rank <= :history
    order by service_name, checked_at desc
    """
)


async def recent_checks(session: AsyncSession, history: int) -> Sequence[Row[tuple[object, ...]]]:
    return (await session.execute(_RECENT_CHECKS, {"history": history})).all()


# Only the columns `anon` may read (the public status page): the service, its state, and when.
_LATEST_STATES = text(
    """
    select distinct on (service_name) service_name, status, checked_at
    from public.system_status
    order by service_name, checked_at desc
    """
)

# Per service and per segment of the window (0 = the newest), the worst state checked in it, and
# how many real checks (not the seed's "not checked yet" rows) found it healthy, over how many.
_SEGMENT_STATES = text(
    """
    select service_name,
           floor(extract(epoch from (cast(:now as timestamptz) - checked_at)) / :segment_seconds)::int
             as segments_ago,
           max(case status when 'down' then 3 when 'degraded' then 2 when 'healthy' then 1 else 0 end)
             as worst,
           count(*) filter (where status <> 'unknown') as checks,
           count(*) filter (where status = 'healthy') as healthy
    from public.system_status
    where checked_at > cast(:now as timestamptz) - make_interval(secs => :window_seconds)
      and checked_at <= cast(:now as timestamptz)
    group by 1, 2
    """
)


async def latest_states(session: AsyncSession) -> Sequence[Row[tuple[object, ...]]]:
    return (await session.execute(_LATEST_STATES)).all()


async def segment_states(
    session: AsyncSession, *, now: datetime, segment_seconds: int, segments: int
) -> Sequence[Row[tuple[object, ...]]]:
    parameters = {
        "now": now,
        "segment_seconds": segment_seconds,
        "window_seconds": segment_seconds * segments,
    }
    return (await session.execute(_SEGMENT_STATES, parameters)).all()


def schema_version_query() -> TextClause:
    return text("select version_num from alembic_version")
