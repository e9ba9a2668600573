"""SQLAlchemy Core table of notifications (migration 0011_notifications).

Its own `metadata`: `autofy.db.tables.metadata` holds exactly the seed's tables (a test says so).
Rows are written by database triggers (see the migration), read and marked read by their owner.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID

from autofy.db import tables

metadata = MetaData()

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(tables.profiles.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("kind", Text, nullable=False),
    Column("subject_id", UUID(as_uuid=True), nullable=False),
    Column("details", JSONB, nullable=False),
    Column("in_app", Boolean, nullable=False),
    Column("read_at", TIMESTAMP(timezone=True)),
    Column("email_status", Text),
    Column("emailed_at", TIMESTAMP(timezone=True)),
    Column("created_at", TIMESTAMP(timezone=True), nullable=False),
)

# What role `authenticated` may select (the email bookkeeping is the service's).
USER_COLUMNS = tuple(c for c in notifications.c if c.name not in {"email_status", "emailed_at"})
