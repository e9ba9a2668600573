"""An index for a user's runs newest first: the Runs page and its live updates.

Revision ID: 0012_runs_list_index
Revises: 0011_notifications
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0012_runs_list_index"
down_revision = "0011_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0012_runs_list_index_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0012_runs_list_index_down.sql")
