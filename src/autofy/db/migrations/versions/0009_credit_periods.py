"""Seeded data that tells the truth: status rows "not checked yet" until a check runs, and the Notion
integration template naming the credential the connector reads (`token`).

(The revision id was assigned before its content was settled; it holds no credit periods.)

Revision ID: 0009_credit_periods
Revises: 0006_chat_search
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0009_credit_periods"
down_revision = "0006_chat_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0009_credit_periods_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0009_credit_periods_down.sql")
