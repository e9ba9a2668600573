"""SQL for the status pages."""

from __future__ import annotations

from collections.abc import Sequence

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


def schema_version_query() -> TextClause:
    return text("select version_num from alembic_version")
