"""Operations: process heartbeats for the health monitor, and the indexes retention needs.

Revision ID: 0005_operations
Revises: 0004_triggers
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0005_operations"
down_revision = "0004_triggers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0005_operations_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0005_operations_down.sql")
