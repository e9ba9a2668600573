"""Usage: the plan and this period's credits, runs per day in the user's time zone, the busiest workflows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from autofy.auth.schemas import Principal
from autofy.credits import service as credits_service
from autofy.profiles import service as profiles_service
from autofy.profiles.schemas import Profile, iana_timezones
from autofy.usage import repository
from autofy.usage.schemas import BusyWorkflow, DailyRuns, UsageOverview

DEFAULT_DAYS = 30
BUSIEST_WORKFLOWS = 5


def _timezone(profile: Profile) -> str:
    return profile.timezone if profile.timezone in iana_timezones() else "UTC"


def _every_day(first: date, figures: dict[date, DailyRuns], count: int) -> list[DailyRuns]:
    days = (first + timedelta(days=offset) for offset in range(count))
    return [
        figures.get(day) or DailyRuns(day=day, completed=0, failed=0, other=0, credits_used=0) for day in days
    ]


async def overview(
    session: AsyncSession, principal: Principal, *, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> UsageOverview:
    """The last `days` days, today included, counted in the profile's time zone."""
    profile = await profiles_service.get_profile(session, principal)
    timezone = _timezone(profile)
    zone = ZoneInfo(timezone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone)
    rows = await repository.runs_per_day(session, since=since, timezone=timezone)
    figures = {row.day: DailyRuns.model_validate(row, from_attributes=True) for row in rows}
    busiest = await repository.busiest_workflows(session, since=since, limit=BUSIEST_WORKFLOWS)
    return UsageOverview(
        credits=await credits_service.own_usage(session, principal.user_id),
        timezone=timezone,
        days=_every_day(first, figures, days),
        busiest_workflows=[BusyWorkflow.model_validate(row, from_attributes=True) for row in busiest],
    )
