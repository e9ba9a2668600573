"""Schedules: which instants a `scheduled` workflow fires at, across time zones and DST changes.

A schedule is a cron expression read in an IANA time zone (`autofy.connectors.catalog.parse_schedule`
reads a workflow's trigger_config, the simple form `{"schedule": "daily", "time": "09:00"}` included,
into one). Slots are wall-clock times in that zone;
on the two days a year when the wall clock jumps, Autofy follows cron's own long-standing rule
(Vixie cron, cronie), so a schedule behaves as a user of cron expects:

- *fixed-time* schedules (a number in both the minute and the hour field, such as `30 2 * * *`) fire
  once per wall-clock slot: a slot inside the spring-forward gap fires once at the first instant
  after the gap (02:30 → 03:00 local), and a slot inside the repeated fall-back hour fires once, at
  its first occurrence;
- *wildcard* schedules (`*` in the minute or hour field, such as `*/15 * * * *` or hourly) follow the
  real clock: a wall-clock time that does not exist does not fire, and one that happens twice fires
  twice, so "every 15 minutes" stays every 15 real minutes through both changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from autofy.connectors.catalog import Schedule, parse_schedule

# No zone has ever moved its clock by more than this at once: instants of wall-clock times further
# apart than this cannot be reordered by a DST change.
_LARGEST_CLOCK_CHANGE = timedelta(hours=3)
# After a long outage, count at most this many skipped slots; the figure then reads "at least".
MAX_COUNTED_MISSED_SLOTS = 1000


def follows_real_clock(schedule: Schedule) -> bool:
    """Cron's "wildcard" schedules: `*` (or `*/n`) in the minute or the hour field."""
    minute, hour = schedule.cron.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def next_slot_after(schedule: Schedule, instant: datetime) -> datetime:
    """The first slot strictly after `instant` (aware), as an aware UTC datetime."""
    zone = schedule.timezone
    wall_clock = instant.astimezone(zone).replace(tzinfo=None)
    if not _same_offset(zone, instant - _LARGEST_CLOCK_CHANGE, instant + _LARGEST_CLOCK_CHANGE):
        # Near a clock change a wall-clock time before `instant`'s may still happen after it.
        wall_clock -= _LARGEST_CLOCK_CHANGE
    candidates = croniter(schedule.cron, wall_clock)
    best: tuple[datetime, datetime] | None = None  # (slot, its wall-clock time)
    while True:
        candidate: datetime = candidates.get_next(datetime)
        if best is not None and candidate > best[1] + _LARGEST_CLOCK_CHANGE:
            return best[0]
        for slot in _instants_of(schedule, candidate):
            if slot > instant and (best is None or slot < best[0]):
                best = (slot, candidate)
                if _same_offset(zone, instant - _LARGEST_CLOCK_CHANGE, slot + _LARGEST_CLOCK_CHANGE):
                    # No clock change nearby: wall-clock times and instants are in the same
                    # order, so the first slot found is the earliest.
                    return slot


def _instants_of(schedule: Schedule, wall_clock: datetime) -> list[datetime]:
    """The instants a wall-clock slot fires at (none, one, or two in a repeated hour)."""
    zone = schedule.timezone
    first = wall_clock.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall_clock.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first.astimezone(zone).replace(tzinfo=None) == wall_clock:
        # The repeated hour after a fall-back: `first` is the earlier occurrence.
        return [first, second] if follows_real_clock(schedule) else [first]
    # Inside the spring-forward gap: for fold=0 zoneinfo applies the offset from before the
    # change, so `second` < `first` and the clock jumped between them.
    return [] if follows_real_clock(schedule) else [_end_of_gap(zone, second, first)]


def next_fire_times(
    trigger_config: Mapping[str, Any],
    count: int = 5,
    *,
    after: datetime | None = None,
    default_timezone: str = "UTC",
) -> list[datetime]:
    """The next `count` instants a scheduled trigger fires at, in its own time zone.

    For a preview ("runs next at ...") in the workflow builder. `trigger_config` is the workflow's
    (cron or the simple form); without a `timezone` of its own it is read in `default_timezone`
    (the owner's, as activation does). Raises ValueError, with the message a save would give,
    for a schedule that would be refused.
    """
    schedule = parse_schedule({"timezone": default_timezone} | dict(trigger_config))
    instant = after or datetime.now(UTC)
    times: list[datetime] = []
    for _ in range(count):
        instant = next_slot_after(schedule, instant)
        times.append(instant.astimezone(schedule.timezone))
    return times


@dataclass(frozen=True)
class DueSlot:
    """What a scheduler does with a schedule whose `next_fire_at` has passed."""

    scheduled_for: datetime
    missed_slots: int  # older slots skipped (MAX_COUNTED_MISSED_SLOTS means "at least that many")
    next_fire_at: datetime


def due_slot(schedule: Schedule, next_fire_at: datetime, now: datetime) -> DueSlot:
    """Missed-slot policy: fire the most recent slot that is due, once; skip older ones, counted."""
    slot = next_fire_at
    missed = 0
    following = next_slot_after(schedule, slot)
    while following <= now:
        if missed == MAX_COUNTED_MISSED_SLOTS:
            slot = _latest_slot_at_or_before(schedule, now, not_before=following)
            following = next_slot_after(schedule, slot)
            break
        slot, missed = following, missed + 1
        following = next_slot_after(schedule, slot)
    return DueSlot(scheduled_for=slot, missed_slots=missed, next_fire_at=following)


def _latest_slot_at_or_before(schedule: Schedule, now: datetime, *, not_before: datetime) -> datetime:
    wall_clock = now.astimezone(schedule.timezone).replace(tzinfo=None)
    previous: datetime = croniter(schedule.cron, wall_clock).get_prev(datetime)
    start = previous.replace(tzinfo=schedule.timezone).astimezone(UTC) - 2 * _LARGEST_CLOCK_CHANGE
    slot = max(not_before, next_slot_after(schedule, start))
    while (following := next_slot_after(schedule, slot)) <= now:
        slot = following
    return slot


def _same_offset(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    return start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset()


def _end_of_gap(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant the clock jumped forward, between `before` and `after` (to the second)."""
    low, high = int(before.timestamp()), int(after.timestamp())
    offset_after = after.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
