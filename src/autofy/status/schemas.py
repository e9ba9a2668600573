from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

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
