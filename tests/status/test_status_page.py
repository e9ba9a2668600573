"""The public status page (/status): readable signed out, 24 hours in 15-minute segments, and
nothing in it but services, states and times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, text

from autofy.db import tables
from autofy.db.engine import Database
from autofy.status.service import SEGMENTS, status_timeline

NOW = datetime(2026, 12, 2, 14, 7, tzinfo=UTC)


async def _record(database: Database, service: str, status: str, at: datetime, **extra: object) -> None:
    async with database.service_session() as session:
        await session.execute(
            insert(tables.system_status).values(service_name=service, status=status, checked_at=at, **extra)
        )


def _strip_label(html: str, service: str) -> str:
    """The accessible summary of a service's strip on the page."""
    section = html.split(f"<h3>{service}</h3>", 1)[1]
    match = re.search(r'class="status-strip" role="img" aria-label="([^"]+)"', section)
    assert match is not None
    return match.group(1)


async def test_the_status_page_needs_no_sign_in_and_says_what_was_never_checked(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/status")

    assert response.status_code == 200
    html = response.text
    assert "<h1>Status</h1>" in html
    # Only the seed's rows exist: nothing has been checked, and nothing claims to be healthy.
    assert "Not checked yet" in html
    assert "Operational</span>" not in html
    assert "All systems operational" not in html
    unchecked = html.split('<ul class="status-unchecked">', 1)[1].split("</ul>", 1)[0]
    assert "Gmail" in unchecked
    assert "Database" in unchecked


async def test_the_page_shows_states_by_segment_and_no_error_detail(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.service_session() as session:  # installed two days ago
        await session.execute(
            text("update system_status set checked_at = now() - interval '2 days' where metadata ? 'initial'")
        )
    now = datetime.now(UTC)
    await _record(database, "database", "healthy", now - timedelta(minutes=1), response_time=3)
    await _record(
        database,
        "workers",
        "down",
        now - timedelta(hours=2),
        error_message="no worker on worker-7.internal.example has reported",
        metadata={"base_url": "http://10.1.2.3:9000"},
    )
    await _record(database, "workers", "healthy", now - timedelta(minutes=1))
    await _record(database, "workers", "down", now - timedelta(hours=30))  # outside the window

    html = (await client.get("/status")).text

    assert "Some services are" not in html
    assert "All systems operational" in html  # the current states; the strip keeps the past
    assert _strip_label(html, "Workers") == (
        "Last 24 hours in 15-minute segments: 1 operational, 0 degraded, 1 down, 94 not checked"
    )
    assert "1 operational, 0 degraded, 0 down, 95 not checked" in _strip_label(html, "Database")
    for private in ("worker-7.internal", "10.1.2.3", "has reported"):
        assert private not in html


async def test_anonymous_readers_get_states_and_times_only(database: Database) -> None:
    async with database.anon_session() as session:
        timeline = await status_timeline(session, now=NOW)
        refused = await session.execute(
            text("select has_column_privilege('system_status', 'error_message', 'select')")
        )
    assert refused.scalar() is False
    assert len(timeline.services[0].segments) == SEGMENTS
    # Segments sit on the clock's quarter hours and end with the one holding `now`.
    last = timeline.services[0].segments[-1]
    assert (last.start, last.end) == (
        datetime(2026, 12, 2, 14, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 14, 15, tzinfo=UTC),
    )
    assert [s.service_name for s in timeline.services][:4] == ["database", "queue", "workers", "scheduler"]
    assert timeline.status == "unknown"
