from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# `unknown`: not checked yet (the row seeded at install, before the monitor's first check).
ServiceState = Literal["unknown", "healthy", "degraded", "down"]


class Health(BaseModel):
    status: Literal["ok", "down"]
    version: str
    database: Literal["ok", "unreachable"]
    schema_version: str | None = None
    error: str | None = None


class Readiness(BaseModel):
    ready: bool
    database: Literal["ok", "unreachable"]
    schema_version: str | None
    expected_schema_version: str
    error: str | None = None


class StatusCheck(BaseModel):
    status: ServiceState
    response_time: int | None
    error_message: str | None
    checked_at: datetime


class ServiceStatus(BaseModel):
    service_name: str
    status: ServiceState
    response_time: int | None
    error_message: str | None
    checked_at: datetime
    history: list[StatusCheck]


class SystemStatus(BaseModel):
    status: ServiceState
    services: list[ServiceStatus]


# A segment of the public timeline: the worst state checked in it, or `none` when nothing was.
SegmentState = Literal["none", "healthy", "degraded", "down"]


class TimelineSegment(BaseModel):
    start: datetime
    end: datetime
    state: SegmentState


class ServiceTimeline(BaseModel):
    service_name: str
    # `unknown`: never checked ("not checked yet").
    status: ServiceState
    checked_at: datetime | None
    healthy_share: float | None = Field(description="Share of the window's checks found healthy.")
    segments: list[TimelineSegment]


class StatusTimeline(BaseModel):
    """What the public status page shows: states and times only, no error detail."""

    status: ServiceState
    generated_at: datetime
    segment_minutes: int
    services: list[ServiceTimeline]
