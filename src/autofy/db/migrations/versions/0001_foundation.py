"""Foundation: the seed schema, the Supabase-compatible auth layer, RLS, and the seed data.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-25
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0001_foundation_up.sql")
    run_sql_file(op.get_bind(), "seed_0001_foundation.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0001_foundation_down.sql")
