"""Webhook replay protection: the signatures of accepted deliveries, kept for the tolerance window.

Revision ID: 0008_webhook_replay
Revises: 0007_step_secrets
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0008_webhook_replay"
down_revision = "0007_step_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0008_webhook_replay_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0008_webhook_replay_down.sql")
