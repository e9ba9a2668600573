"""Chat search's HNSW index on half-precision vectors (pgvector >= 0.7) with 32 links per node (ef_construction 128),
candidates re-ranked by the full-precision distance, searches with hnsw.ef_search 200.

Revision ID: 0017_chat_halfvec
Revises: 0016_schedule_prepare
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0017_chat_halfvec"
down_revision = "0016_schedule_prepare"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0017_chat_halfvec_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0017_chat_halfvec_down.sql")
