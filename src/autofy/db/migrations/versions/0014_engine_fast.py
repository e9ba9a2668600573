"""Credits settled for a whole finishing group at once: one update of each owner's profile.

Revision ID: 0014_engine_fast
Revises: 0012_runs_list_index
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0014_engine_fast"
down_revision = "0013_fast_start"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0014_engine_fast_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0014_engine_fast_down.sql")
