from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["ok", "down"]
    version: str
    database: Literal["ok", "unreachable"]
    schema_version: str | None = None
    error: str | None = None
