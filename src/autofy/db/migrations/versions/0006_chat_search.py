"""Chat search: a full-text index on chat messages and the caller-scoped vector search function.

Revision ID: 0006_chat_search
Revises: 0005_operations
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0006_chat_search"
down_revision = "0005_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0006_chat_search_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0006_chat_search_down.sql")
