"""Credits per period: a monthly allowance that resets (audited), reservations taken atomically
before a run or an assistant turn starts and settled when it ends, and credits an operator grants.

Revision ID: 0010_credit_periods
Revises: 0009_truthful_seed
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0010_credit_periods"
down_revision = "0009_truthful_seed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0010_credit_periods_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0010_credit_periods_down.sql")
