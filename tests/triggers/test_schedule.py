"""Which instants schedules fire at: cron and the simple form, across DST changes, and the
missed-slot policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from autofy.connectors.catalog import Schedule, parse_schedule
from autofy.triggers.schedule import (
    MAX_COUNTED_MISSED_SLOTS,
    due_slot,
    follows_real_clock,
    next_fire_times,
    next_slot_after,
)


def slots(cron: str, timezone: str, after: datetime, count: int) -> list[str]:
    """The next `count` slots after `after`, as local ISO times."""
    schedule = Schedule(cron, ZoneInfo(timezone))
    found = []
    for _ in range(count):
        after = next_slot_after(schedule, after)
        found.append(after.astimezone(schedule.timezone).isoformat())
    return found


def local(timezone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(timezone))  # type: ignore[misc]


def test_weekday_cron_skips_the_weekend() -> None:
    friday_noon = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert slots("0 9 * * 1-5", "UTC", friday_noon, 2) == [
        "2026-11-30T09:00:00+00:00",
        "2026-12-01T09:00:00+00:00",
    ]


def test_a_slot_is_read_in_the_schedules_time_zone() -> None:
    assert slots("0 9 * * *", "Asia/Tokyo", datetime(2026, 11, 24, 23, 0, tzinfo=UTC), 1) == [
        "2026-11-25T09:00:00+09:00"
    ]


@pytest.mark.parametrize(
    ("config", "cron"),
    [
        ({"schedule": "daily", "time": "09:00"}, "0 9 * * *"),
        ({"schedule": "hourly", "time": "00:15"}, "15 * * * *"),
        ({"schedule": "weekly", "time": "18:30", "day_of_week": "friday"}, "30 18 * * 5"),
    ],
)
def test_the_simple_form_is_a_cron_expression(config: dict[str, str], cron: str) -> None:
    assert parse_schedule(config).cron == cron


# --- spring forward: 02:00 → 03:00 (Paris 29 March 2026, New York 8 March 2026) ------------------


@pytest.mark.parametrize(
    ("timezone", "day_before"),
    [
        ("Europe/Paris", datetime(2026, 3, 28, 12, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 3, 7, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_daily_slot_in_the_spring_forward_gap_runs_once_at_the_end_of_the_gap(
    timezone: str, day_before: datetime
) -> None:
    fired = slots("30 2 * * *", timezone, day_before, 3)
    day = day_before + timedelta(days=1)
    # 02:30 does not exist that day: the run happens once, at 03:00 local, the first valid time;
    # the next runs are at 02:30 on the following days.
    assert fired[0] == local(timezone, day.year, day.month, day.day, 3, 0).isoformat()
    assert [datetime.fromisoformat(slot).strftime("%d %H:%M") for slot in fired[1:]] == [
        f"{day.day + 1:02d} 02:30",
        f"{day.day + 2:02d} 02:30",
    ]


def test_every_15_minutes_follows_the_real_clock_through_the_spring_forward_gap() -> None:
    before_change = datetime(2026, 3, 29, 0, 50, tzinfo=UTC)  # 01:50 in Paris
    assert slots("*/15 * * * *", "Europe/Paris", before_change, 3) == [
        "2026-03-29T03:00:00+02:00",  # 02:00–02:45 never happen
        "2026-03-29T03:15:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


# --- fall back: 02:00 happens twice in Paris (25 October 2026), 01:00 in New York (1 November) -----


@pytest.mark.parametrize(
    ("timezone", "time", "day_before"),
    [
        ("Europe/Paris", "30 2 * * *", datetime(2026, 10, 24, 12, 0, tzinfo=UTC)),
        ("America/New_York", "30 1 * * *", datetime(2026, 10, 31, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_daily_slot_in_the_repeated_hour_runs_once_not_twice(
    timezone: str, time: str, day_before: datetime
) -> None:
    schedule = Schedule(time, ZoneInfo(timezone))
    on_the_day = next_slot_after(schedule, day_before)
    on_the_day_local = on_the_day.astimezone(schedule.timezone)
    # The first occurrence (still summer time) ...
    assert on_the_day_local.dst() != timedelta(0)
    # ... and the next run is the following day, not the same wall-clock time an hour later.
    following = next_slot_after(schedule, on_the_day)
    assert following - on_the_day == timedelta(hours=25)
    assert following.astimezone(schedule.timezone).day == on_the_day_local.day + 1


def test_every_30_minutes_runs_in_both_occurrences_of_the_repeated_hour() -> None:
    before_change = datetime(2026, 10, 24, 23, 59, tzinfo=UTC)  # 01:59 CEST in Paris
    fired = slots("*/30 * * * *", "Europe/Paris", before_change, 5)
    assert fired == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


@pytest.mark.parametrize("cron", ["30 2 * * *", "30 1 * * *", "*/20 * * * *", "0 * * * *"])
def test_slots_always_move_forward_through_both_changes(cron: str) -> None:
    schedule = Schedule(cron, ZoneInfo("America/New_York"))
    for change_day in (datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)):
        slot, seen_local_days = change_day - timedelta(days=2), []
        while slot < change_day + timedelta(days=2):
            following = next_slot_after(schedule, slot)
            assert following > slot
            slot = following
            seen_local_days.append(slot.astimezone(schedule.timezone).date())
        if not follows_real_clock(schedule):
            # A daily schedule fires exactly once on every local day, the change days included.
            assert len(seen_local_days) == len(set(seen_local_days))


# --- missed slots -----------------------------------------------------------------------------------


def test_after_an_outage_only_the_latest_missed_slot_fires_and_the_others_are_counted() -> None:
    schedule = Schedule("0 9 * * *", ZoneInfo("UTC"))
    due = due_slot(
        schedule,
        next_fire_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        now=datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
    )
    assert due.scheduled_for == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert due.missed_slots == 5
    assert due.next_fire_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_a_slot_seen_on_time_misses_nothing() -> None:
    schedule = Schedule("*/5 * * * *", ZoneInfo("UTC"))
    slot = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    due = due_slot(schedule, next_fire_at=slot, now=slot + timedelta(seconds=1))
    assert (due.scheduled_for, due.missed_slots, due.next_fire_at) == (slot, 0, slot + timedelta(minutes=5))


def test_a_very_long_outage_still_fires_the_latest_slot() -> None:
    schedule = Schedule("* * * * *", ZoneInfo("UTC"))
    now = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
    due = due_slot(schedule, next_fire_at=now - timedelta(days=30), now=now)
    assert due.scheduled_for == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert due.missed_slots == MAX_COUNTED_MISSED_SLOTS
    assert due.next_fire_at == datetime(2026, 11, 25, 12, 1, tzinfo=UTC)


# --- what a schedule may be ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("* * * * * *", "has 6 fields"),  # seconds: would fire every second
        ("0 0 * * * *", "has 6 fields"),
        ("0 0 30 2 *", "never comes due within a year"),
        ("0 0 31 4 *", "never comes due within a year"),
        ("61 * * * *", "not a valid cron expression"),
        ("every morning", "not a valid cron expression"),
    ],
)
def test_a_schedule_that_fires_faster_than_a_minute_or_never_is_refused(cron: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_schedule({"cron": cron})


def test_next_fire_times_previews_a_schedule_in_its_own_time_zone() -> None:
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday

    times = next_fire_times({"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}, after=after)

    assert [moment.isoformat() for moment in times] == [
        "2026-11-30T09:00:00+01:00",
        "2026-12-01T09:00:00+01:00",
        "2026-12-02T09:00:00+01:00",
        "2026-12-03T09:00:00+01:00",
        "2026-12-04T09:00:00+01:00",
    ]


def test_next_fire_times_reads_the_simple_form_in_the_default_time_zone() -> None:
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    times = next_fire_times(
        {"schedule": "daily", "time": "08:30"}, count=2, after=after, default_timezone="Asia/Tokyo"
    )

    assert [moment.isoformat() for moment in times] == [
        "2026-11-28T08:30:00+09:00",
        "2026-11-29T08:30:00+09:00",
    ]


def test_next_fire_times_refuses_what_a_save_refuses() -> None:
    with pytest.raises(ValueError, match="never comes due"):
        next_fire_times({"cron": "0 0 30 2 *"})
