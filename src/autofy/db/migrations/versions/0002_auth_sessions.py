"""Auth sessions and rotating refresh tokens (service role only), and the sign-in rate-limit indexes.

Revision ID: 0002_auth_sessions
Revises: 0001_foundation
Create Date: 2026-11-25
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0002_auth_sessions"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0002_auth_sessions_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0002_auth_sessions_down.sql")
