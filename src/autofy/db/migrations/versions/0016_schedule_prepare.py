"""A run's started_at is its start statement's time, not its transaction's: schedulers prepare a
batch before its slot and start it at the slot, in one transaction.

Revision ID: 0016_schedule_prepare
Revises: 0015_chat_search_index
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0016_schedule_prepare"
down_revision = "0015_chat_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0016_schedule_prepare_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0016_schedule_prepare_down.sql")
