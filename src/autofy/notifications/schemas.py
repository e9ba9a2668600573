from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from autofy.pagination import OffsetPage

NotificationKind = Literal["execution_failed", "integration_error", "credits_low"]


class Notification(BaseModel):
    id: uuid.UUID
    kind: NotificationKind
    title: str = Field(description="One line: what happened.")
    message: str = Field(description="What to know or do about it.")
    link: str = Field(description="The page of the web app where it can be seen or fixed (a path).")
    read_at: datetime | None
    created_at: datetime


class NotificationPage(OffsetPage[Notification]):
    unread: int = Field(description="Your unread notifications, over all pages.")


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications this marked read.")
