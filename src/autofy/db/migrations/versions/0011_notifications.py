"""Notifications: a failed run, an integration in error and credits nearly used up, recorded by
database triggers (so no engine path has to remember them), and the public status page's grant.

Revision ID: 0011_notifications
Revises: 0009_truthful_seed
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0011_notifications"
down_revision = "0010_credit_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0011_notifications_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0011_notifications_down.sql")
