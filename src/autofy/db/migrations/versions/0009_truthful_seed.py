"""Seeded data that tells the truth: status rows "not checked yet" until a check runs, and the Notion
integration template naming the credential the connector reads (`token`).

Revision ID: 0009_truthful_seed
Revises: 0008_webhook_replay
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0009_truthful_seed"
down_revision = "0008_webhook_replay"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0009_truthful_seed_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0009_truthful_seed_down.sql")
