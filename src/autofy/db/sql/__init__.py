"""The SQL scripts behind Autofy's migrations, kept as plain .sql files so they read as SQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.util import await_only

SQL_DIR = Path(__file__).parent


def run_sql_file(connection: Connection, name: str) -> None:
    """Run a whole script (functions, policies, many statements) inside the migration transaction.

    SQLAlchemy's asyncpg adapter prepares every statement, and a prepared statement holds one
    command; the driver's own `execute` without arguments takes a whole script.
    """
    script = (SQL_DIR / name).read_text(encoding="utf-8")
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    await_only(driver_connection.execute(script))
