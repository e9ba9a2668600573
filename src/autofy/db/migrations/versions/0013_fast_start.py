"""Runs start in one statement, one or a batch (public.start_executions): webhooks, schedules, every start.

Revision ID: 0013_fast_start
Revises: 0012_runs_list_index
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0013_fast_start"
down_revision = "0012_runs_list_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0013_fast_start_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0013_fast_start_down.sql")
