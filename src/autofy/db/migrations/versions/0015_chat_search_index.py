"""Chat search that uses its indexes: full text through its GIN index (a function, as vectors
have), vector search with hnsw.ef_search 100 and iterative scans.

Revision ID: 0015_chat_search_index
Revises: 0012_runs_list_index
"""

from alembic import op

from autofy.db.sql import run_sql_file

revision = "0015_chat_search_index"
down_revision = "0014_engine_fast"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "0015_chat_search_index_up.sql")


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0015_chat_search_index_down.sql")
