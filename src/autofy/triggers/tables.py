"""SQLAlchemy Core tables of the trigger state (migration 0004_triggers).

Their own `metadata`: `autofy.db.tables.metadata` holds exactly the seed's tables (a test says so).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID

from autofy.db import tables

metadata = MetaData()


def _workflow_id() -> Column[object]:
    return Column(
        "workflow_id",
        UUID(as_uuid=True),
        ForeignKey(tables.workflows.c.id, ondelete="CASCADE"),
        primary_key=True,
    )


def _owner_id() -> Column[object]:
    return Column(
        "user_id", UUID(as_uuid=True), ForeignKey(tables.profiles.c.id, ondelete="CASCADE"), nullable=False
    )


def _timestamp(name: str, *, nullable: bool = True) -> Column[object]:
    return Column(name, TIMESTAMP(timezone=True), nullable=nullable)


workflow_webhooks = Table(
    "workflow_webhooks",
    metadata,
    _workflow_id(),
    _owner_id(),
    Column("token", Text, nullable=False, unique=True),
    Column("signing_secret", Text, nullable=False),
    _timestamp("created_at", nullable=False),
    _timestamp("rotated_at"),
)

workflow_schedules = Table(
    "workflow_schedules",
    metadata,
    _workflow_id(),
    _owner_id(),
    Column("expression", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    _timestamp("next_fire_at", nullable=False),
    _timestamp("last_fired_at"),
    _timestamp("created_at", nullable=False),
    _timestamp("updated_at", nullable=False),
)

workflow_trigger_polls = Table(
    "workflow_trigger_polls",
    metadata,
    _workflow_id(),
    _owner_id(),
    Column("service_name", Text, nullable=False),
    Column("trigger_name", Text, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("cursor", JSONB, nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    _timestamp("next_poll_at", nullable=False),
    _timestamp("last_polled_at"),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False),
    _timestamp("created_at", nullable=False),
    _timestamp("updated_at", nullable=False),
)
