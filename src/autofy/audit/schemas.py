from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from autofy.pagination import OffsetPage


@dataclass(frozen=True)
class RequestInfo:
    """Who is on the other end of a request, as an audit row records it."""

    ip_address: str | None
    user_agent: str | None


class AuditLog(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str
    resource_type: str
    resource_id: uuid.UUID | None
    details: dict[str, Any]
    ip_address: str | None
    user_agent: str | None
    created_at: datetime


class AuditLogPage(OffsetPage[AuditLog]):
    pass
