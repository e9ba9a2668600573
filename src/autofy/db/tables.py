"""SQLAlchemy Core tables for every table of the schema (migration 0001_foundation).

The migrations' SQL is the source of truth; these objects are how repositories name tables and
columns. tests/db/test_tables.py compares them with the migrated catalog, so they cannot drift.

Column privileges matter when querying as a user (role `authenticated`): selecting a column the
user may not read fails with "permission denied", so `select(integrations)` or `RETURNING *` is
refused as a user. Use the `*_USER_COLUMNS` lists below for what a user may read.
"""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import INET, INTERVAL, JSONB, TIMESTAMP, UUID

EMBEDDING_DIMENSIONS = 1536

metadata = MetaData()


def _timestamp(name: str) -> Column[object]:
    return Column(name, TIMESTAMP(timezone=True))


def _uuid_pk() -> Column[object]:
    return Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def _owner_id() -> Column[object]:
    """The owning user of a tenant's row; the row goes when the profile goes."""
    return Column(
        "user_id", UUID(as_uuid=True), ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
    )


# --- auth (Supabase-compatible subset) ----------------------------------------------------------

users = Table(
    "users",
    metadata,
    _uuid_pk(),
    Column("email", Text, unique=True),
    Column("encrypted_password", Text),
    Column("raw_user_meta_data", JSONB),
    Column("raw_app_meta_data", JSONB),
    Column("role", Text),
    Column("aud", Text),
    _timestamp("email_confirmed_at"),
    _timestamp("last_sign_in_at"),
    _timestamp("banned_until"),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    schema="auth",
)

# --- users & authentication ----------------------------------------------------------------------

profiles = Table(
    "profiles",
    metadata,
    Column("id", UUID(as_uuid=True), ForeignKey("auth.users.id", ondelete="CASCADE"), primary_key=True),
    Column("email", Text, nullable=False),
    Column("full_name", Text),
    Column("avatar_url", Text),
    Column("timezone", Text),
    Column("plan_type", Text),
    Column("credits_used", Integer),
    Column("credits_limit", Integer),
    Column("onboarding_completed", Boolean),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    # Credits per period (0010_credit_periods): credits_limit is the allowance per period.
    Column("credits_reserved", Integer, nullable=False),
    Column("credits_granted", Integer, nullable=False),
    Column("credits_period_start", TIMESTAMP(timezone=True), nullable=False),
    Column("credits_period_end", TIMESTAMP(timezone=True), nullable=False),
)

user_preferences = Table(
    "user_preferences",
    metadata,
    _uuid_pk(),
    _owner_id(),
    Column("preference_key", Text, nullable=False),
    Column("preference_value", JSONB, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("user_id", "preference_key"),
)

# --- service integrations ------------------------------------------------------------------------

integrations = Table(
    "integrations",
    metadata,
    _uuid_pk(),
    _owner_id(),
    Column("service_name", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    # Ciphertext only; `authenticated` may write it but never read it back (column privilege).
    Column("credentials", JSONB, nullable=False),
    Column("configuration", JSONB),
    Column("status", Text),
    _timestamp("last_tested_at"),
    Column("error_message", Text),
    Column("metadata", JSONB),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("user_id", "service_name"),
)

integration_templates = Table(
    "integration_templates",
    metadata,
    _uuid_pk(),
    Column("service_name", Text, nullable=False),
    Column("template_name", Text, nullable=False),
    Column("description", Text),
    Column("configuration", JSONB, nullable=False),
    Column("required_scopes", ARRAY(Text)),
    Column("setup_guide", Text),
    Column("is_active", Boolean),
    _timestamp("created_at"),
    UniqueConstraint("service_name", "template_name"),
)

# --- workflows & automation ----------------------------------------------------------------------

workflows = Table(
    "workflows",
    metadata,
    _uuid_pk(),
    _owner_id(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("status", Text),
    Column("trigger_type", Text, nullable=False),
    Column("trigger_config", JSONB),
    Column("tags", ARRAY(Text)),
    # The counters and timings below are the engine's (service role); users cannot write them.
    Column("total_executions", Integer),
    Column("successful_executions", Integer),
    Column("failed_executions", Integer),
    _timestamp("last_executed_at"),
    Column("average_duration", INTERVAL),
    Column("created_from_chat", Boolean),
    Column(
        "chat_session_id",
        UUID(as_uuid=True),
        ForeignKey("chat_sessions.id", ondelete="SET NULL", use_alter=True),
    ),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

workflow_steps = Table(
    "workflow_steps",
    metadata,
    _uuid_pk(),
    Column(
        "workflow_id",
        UUID(as_uuid=True),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step_order", Integer, nullable=False),
    Column("step_type", Text, nullable=False),
    Column("service_name", Text, nullable=False),
    Column("action_name", Text, nullable=False),
    Column("configuration", JSONB, nullable=False),
    Column("conditions", JSONB),
    Column("error_handling", JSONB),
    Column("is_enabled", Boolean),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("workflow_id", "step_order"),
)

workflow_executions = Table(
    "workflow_executions",
    metadata,
    _uuid_pk(),
    Column(
        "workflow_id",
        UUID(as_uuid=True),
        ForeignKey("workflows.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _owner_id(),
    Column("trigger_data", JSONB),
    # Final once completed/failed/cancelled: a trigger refuses any later change (SQLSTATE 55000).
    Column("execution_status", Text, nullable=False),
    _timestamp("started_at"),
    _timestamp("completed_at"),
    Column("duration", INTERVAL),
    Column("total_steps", Integer),
    Column("completed_steps", Integer),
    Column("failed_steps", Integer),
    Column("step_results", JSONB),
    Column("error_message", Text),
    Column(
        "error_step_id",
        UUID(as_uuid=True),
        ForeignKey("workflow_steps.id", ondelete="SET NULL"),
    ),
    Column("metadata", JSONB),
    Column("credits_used", Integer),
)

workflow_templates = Table(
    "workflow_templates",
    metadata,
    _uuid_pk(),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("category", Text, nullable=False),
    Column("difficulty", Text),
    Column("required_integrations", ARRAY(Text), nullable=False),
    Column("template_data", JSONB, nullable=False),
    Column("preview_image", Text),
    Column("use_count", Integer),
    Column("is_featured", Boolean),
    Column("created_by", UUID(as_uuid=True), ForeignKey("profiles.id", ondelete="SET NULL")),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

# --- chat & AI -----------------------------------------------------------------------------------

chat_sessions = Table(
    "chat_sessions",
    metadata,
    _uuid_pk(),
    _owner_id(),
    Column("session_name", Text),
    Column("intent", Text),
    Column("context", JSONB),
    Column("status", Text),
    Column("workflow_id", UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="SET NULL")),
    _timestamp("created_at"),
    _timestamp("updated_at"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    _uuid_pk(),
    Column(
        "session_id",
        UUID(as_uuid=True),
        ForeignKey("chat_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", JSONB),
    # Written and read by the service only (column privilege).
    Column("embedding", Vector(EMBEDDING_DIMENSIONS)),
    _timestamp("created_at"),
)

# --- system & monitoring -------------------------------------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    _uuid_pk(),
    _owner_id(),
    Column("key_name", Text, nullable=False),
    Column("key_prefix", Text, nullable=False),
    # A user may write it when creating a key, never read it back (column privilege).
    Column("key_hash", Text, nullable=False),
    Column("permissions", ARRAY(Text)),
    _timestamp("last_used_at"),
    Column("usage_count", Integer),
    _timestamp("expires_at"),
    Column("is_active", Boolean),
    _timestamp("created_at"),
    UniqueConstraint("user_id", "key_name"),
)

audit_logs = Table(
    "audit_logs",
    metadata,
    _uuid_pk(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("profiles.id", ondelete="SET NULL")),
    Column("action", Text, nullable=False),
    Column("resource_type", Text, nullable=False),
    Column("resource_id", UUID(as_uuid=True)),
    Column("details", JSONB),
    Column("ip_address", INET),
    Column("user_agent", Text),
    _timestamp("created_at"),
)

system_status = Table(
    "system_status",
    metadata,
    _uuid_pk(),
    Column("service_name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("response_time", Integer),
    Column("error_message", Text),
    Column("metadata", JSONB),
    _timestamp("checked_at"),
)

# The public tables of the seed, in the seed's order.
PUBLIC_TABLES: tuple[Table, ...] = (
    profiles,
    user_preferences,
    integrations,
    integration_templates,
    workflows,
    workflow_steps,
    workflow_executions,
    workflow_templates,
    chat_sessions,
    chat_messages,
    api_keys,
    audit_logs,
    system_status,
)

# What role `authenticated` may select, for the tables where that is not every column.
INTEGRATION_USER_COLUMNS = tuple(c for c in integrations.c if c.name != "credentials")
CHAT_MESSAGE_USER_COLUMNS = tuple(c for c in chat_messages.c if c.name != "embedding")
API_KEY_USER_COLUMNS = tuple(c for c in api_keys.c if c.name != "key_hash")
