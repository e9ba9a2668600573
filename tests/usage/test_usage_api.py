"""GET /api/v1/usage: plan, credits, runs per day in the profile's time zone, busiest workflows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from autofy.db import tables
from autofy.db.engine import Database
from tests.api_fixtures import sign_up
from tests.factories import User, create_execution, create_workflow


async def _set_profile(database: Database, user_id: object, **values: object) -> None:
    async with database.service_session() as session:
        await session.execute(update(tables.profiles).where(tables.profiles.c.id == user_id).values(**values))


async def test_a_new_account_has_thirty_empty_days_and_its_plan(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.get("/api/v1/usage", headers=user.headers)

    assert response.status_code == 200
    body = response.json()
    credits = body["credits"]
    assert (credits["plan_type"], credits["used"], credits["allowance"], credits["remaining"]) == (
        "free",
        0,
        1000,
        1000,
    )
    assert body["timezone"] == "UTC"
    assert len(body["days"]) == 30
    assert body["days"][-1]["day"] == datetime.now(UTC).date().isoformat()
    assert all(day["completed"] + day["failed"] + day["other"] == 0 for day in body["days"])
    assert body["busiest_workflows"] == []


async def test_runs_are_counted_per_day_in_the_profile_time_zone_and_per_workflow(
    client: httpx.AsyncClient, database: Database
) -> None:
    signed_up = await sign_up(client)
    user = User(id=signed_up.user_id, email=signed_up.email, claims={})
    await _set_profile(database, user.id, timezone="Asia/Tokyo", credits_used=42, plan_type="pro")
    busy = await create_workflow(database, user, name="Busy <one>")
    quiet = await create_workflow(database, user, name="Quiet")
    tokyo_today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()
    # 23:30 UTC the day before Tokyo's today is 08:30 today in Tokyo.
    today_in_tokyo = datetime.combine(tokyo_today - timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=23, minutes=30
    )
    for status in ("completed", "completed", "failed"):
        await create_execution(
            database, busy, execution_status=status, started_at=today_in_tokyo, credits_used=3
        )
    await create_execution(
        database, quiet, execution_status="cancelled", started_at=today_in_tokyo - timedelta(days=2)
    )
    await create_execution(
        database, quiet, execution_status="completed", started_at=today_in_tokyo - timedelta(days=40)
    )
    stranger = await sign_up(client)
    stranger_workflow = await create_workflow(
        database, User(id=stranger.user_id, email=stranger.email, claims={})
    )
    await create_execution(
        database, stranger_workflow, execution_status="completed", started_at=today_in_tokyo
    )

    body = (await client.get("/api/v1/usage", headers=signed_up.headers)).json()

    credits = body["credits"]
    assert (credits["plan_type"], credits["used"], credits["remaining"]) == (
        "pro",
        42,
        credits["allowance"] + credits["granted"] - 42,
    )
    assert body["timezone"] == "Asia/Tokyo"
    days = {date.fromisoformat(day["day"]): day for day in body["days"]}
    assert days[tokyo_today] == {
        "day": tokyo_today.isoformat(),
        "completed": 2,
        "failed": 1,
        "other": 0,
        "credits_used": 9,
    }
    assert days[tokyo_today - timedelta(days=2)]["other"] == 1
    assert sum(day["completed"] + day["failed"] + day["other"] for day in body["days"]) == 4
    assert [(w["name"], w["runs"], w["failed"], w["credits_used"]) for w in body["busiest_workflows"]] == [
        ("Busy <one>", 3, 1, 9),
        ("Quiet", 1, 0, 0),
    ]
