"""Triggers: webhook endpoints, schedules and polling cursors.

Revision ID: 0004_triggers
Revises: 0003_engine
Create Date: 2026-11-25
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0004_triggers"
down_revision = "0003_engine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0004_triggers_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0004_triggers_down.sql")
