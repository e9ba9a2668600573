"""Engine: the job queue (pgqueuer's schema) and the execution engine's columns.

Revision ID: 0003_engine
Revises: 0002_auth_sessions
Create Date: 2026-11-25
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0003_engine"
down_revision = "0002_auth_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0003_engine_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0003_engine_down.sql")
